"""Pure rules of issue 12 item 3: unassigning a picked order, impossible rider moves, and the
approximate area riders see before a pick."""

from datetime import UTC, datetime, timedelta

import pytest

from delivery.domain import commands as c
from delivery.domain import events as e
from delivery.domain import order
from delivery.domain.area import approximate, approximate_location, coarse_text
from delivery.domain.geo import Location, distance_km
from delivery.domain.movement import check_move
from delivery.domain.notices import notices_for
from delivery.domain.refusal import Refusal
from tests.unit.test_order_state_machine import FAR, REACHABLE, T, at, confirm, pick

UNASSIGN = c.UnassignOrder("o1", "rider unreachable")


def test_unassigning_a_picked_order_makes_it_cooked_and_unpicked_again():
    s = at("picked_up")
    (event,) = order.decide(s, UNASSIGN, T)
    assert isinstance(event, e.OrderUnassigned) and event.rider_id == "r1"
    after = order.evolve(s, event)
    assert (after.status, after.rider_id, after.version) == ("cooked", None, s.version + 1)
    assert after.history[-1] == ("cooked", T)
    assert order.visible_to_rider(after, FAR, 100.0)


def test_another_rider_can_pick_an_unassigned_order_and_deliver_it():
    s = order.evolve(at("picked_up"), order.decide(at("picked_up"), UNASSIGN, T)[0])
    s = confirm(pick(s, rider="r2"))
    assert (s.status, s.rider_id) == ("completed", "r2")


@pytest.mark.parametrize("status", [s for s in REACHABLE if s != "picked_up"])
def test_only_a_picked_order_can_be_unassigned(status):
    decision = order.decide(at(status), UNASSIGN, T)
    assert isinstance(decision, Refusal) and decision.code == "invalid_transition"
    assert status in decision.detail


def test_the_customer_is_told_the_rider_was_unassigned():
    s = at("picked_up")
    (event,) = order.decide(s, UNASSIGN, T)
    (notice,) = notices_for(event, order.evolve(s, event))
    assert (notice.recipient_kind, notice.recipient_id, notice.kind) == ("customer", "c1",
                                                                         "rider_unassigned")


NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOME = Location(37.4979, 127.0276)
TWO_KM_NORTH = Location(37.4979 + 0.018, 127.0276)


def test_a_move_at_city_speed_is_accepted():
    assert check_move(HOME, NOW, TWO_KM_NORTH, NOW + timedelta(minutes=3), 150.0) is None  # 40 km/h


def test_a_move_faster_than_the_limit_is_refused_naming_the_location():
    refusal = check_move(HOME, NOW, TWO_KM_NORTH, NOW + timedelta(seconds=30), 150.0)  # 240 km/h
    assert refusal.code == "implausible_location" and refusal.field == "location"
    assert "150 km/h" in refusal.detail


def test_a_jump_at_the_same_instant_is_refused_but_gps_noise_is_not():
    assert check_move(HOME, NOW, TWO_KM_NORTH, NOW, 150.0).code == "implausible_location"
    assert check_move(HOME, NOW, Location(HOME.lat + 0.0002, HOME.lon), NOW, 150.0) is None


def test_the_first_location_and_an_infinite_limit_are_never_refused():
    assert check_move(None, None, TWO_KM_NORTH, NOW, 150.0) is None
    assert check_move(HOME, NOW, TWO_KM_NORTH, NOW, float("inf")) is None


def test_an_approximate_location_is_within_a_few_hundred_metres_and_shared_by_neighbours():
    door = Location(37.49791, 127.02761)
    area = approximate_location(door)
    assert 0 < distance_km(door, area) < 0.3
    assert approximate_location(Location(37.49805, 127.02775)) == area  # the next door


@pytest.mark.parametrize("text, coarse", [
    ("Gangnam-daero 396", "Gangnam-daero"),
    ("서울 강남구 테헤란로 152, 3층", "서울 강남구"),
    ("101-dong 1203-ho", ""),
    ("", ""),
])
def test_the_coarse_text_keeps_the_district_and_drops_numbers(text, coarse):
    assert coarse_text(text) == coarse


def test_the_approximate_area_of_an_address_has_no_house_number():
    area = approximate(c.Address(37.4979, 127.0276, "Gangnam-daero 396"))
    assert area["text"] == "Gangnam-daero" and (area["lat"], area["lon"]) != (37.4979, 127.0276)


def test_onboarding_is_manual_by_default_and_the_test_overlay_approves_at_once():
    from delivery import config
    from tests.conftest import FAST

    assert config.load(env={}).onboarding.auto_approve is False
    assert config.load(env={"DELIVERY_ONBOARDING_AUTO_APPROVE": "true"}).onboarding.auto_approve
    assert config.load(FAST, env={}).onboarding.auto_approve is True
    assert config.load(env={}).dispatch.max_speed_kmh == 150.0


@pytest.mark.parametrize("value", ["0", "-5", "fast"])
def test_a_speed_limit_that_is_not_positive_is_an_error_naming_the_key(value):
    from delivery import config

    with pytest.raises(config.ConfigError, match=r"dispatch\.max_speed_kmh"):
        config.load(env={"DELIVERY_DISPATCH_MAX_SPEED_KMH": value})
