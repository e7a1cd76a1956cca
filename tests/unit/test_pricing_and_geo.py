"""Order totals with validation; great-circle distance and location checks."""

import math
import random

import pytest

from delivery.domain.geo import EARTH_RADIUS_KM, Location, check_location, distance_km, haversine_km
from delivery.domain.menu import MenuItem, check_price, price_order
from delivery.domain.refusal import Refusal

MENU = {"m1": MenuItem("m1", "Bibimbap", 9000), "m2": MenuItem("m2", "Soju", 5000)}


def test_the_total_is_the_sum_of_price_times_quantity_in_won():
    lines, total = price_order(MENU, [("m1", 2), ("m2", 3)])
    assert total == 2 * 9000 + 3 * 5000
    assert [(line.name, line.price, line.quantity) for line in lines] == [
        ("Bibimbap", 9000, 2), ("Soju", 5000, 3)]


@pytest.mark.parametrize("quantity", [0, -1, 100, 1.5, True, "2", None])
def test_a_quantity_outside_1_to_99_or_not_an_integer_is_refused(quantity):
    refusal = price_order(MENU, [("m1", 1), ("m2", quantity)])
    assert isinstance(refusal, Refusal)
    assert (refusal.code, refusal.field) == ("invalid_field", "items[1].quantity")


@pytest.mark.parametrize("quantity", [1, 99])
def test_quantities_at_the_bounds_are_accepted(quantity):
    assert price_order(MENU, [("m1", quantity)])[1] == 9000 * quantity


def test_an_unknown_item_an_empty_order_and_too_many_lines_are_refused():
    assert price_order(MENU, [("nope", 1)]).code == "unknown_menu_item"
    assert price_order(MENU, []).field == "items"
    assert price_order(MENU, [("m1", 1)] * 51).field == "items"


@pytest.mark.parametrize("price,ok", [(0, True), (18000, True), (10_000_000, True),
                                      (-1, False), (1.5, False), (True, False), ("100", False),
                                      (10_000_001, False)])
def test_menu_prices_are_integer_won_in_range(price, ok):
    result = check_price(price, "menu[0].price")
    assert (result == price) if ok else (isinstance(result, Refusal) and result.field == "menu[0].price")


def test_distance_between_known_points():
    seoul_city_hall, gangnam_station = Location(37.5663, 126.9779), Location(37.4979, 127.0276)
    assert distance_km(seoul_city_hall, gangnam_station) == pytest.approx(8.78, abs=0.05)
    assert distance_km(seoul_city_hall, seoul_city_hall) == 0.0
    # a quarter of the equator
    assert distance_km(Location(0, 0), Location(0, 90)) == pytest.approx(math.pi * 6371.0088 / 2)


def test_distance_is_symmetric_and_handles_antipodes():
    a, b = Location(37.5, 127.0), Location(-37.5, -53.0)
    assert distance_km(a, b) == pytest.approx(distance_km(b, a))
    assert distance_km(a, b) == pytest.approx(math.pi * 6371.0088, rel=1e-6)


@pytest.mark.parametrize("lat,lon,field", [(91, 0, "location.lat"), (-90.5, 0, "location.lat"),
                                           (0, 180.1, "location.lon"), ("1", 0, "location.lat"),
                                           (0, None, "location.lon"), (True, 0, "location.lat"),
                                           (float("nan"), 0, "location.lat"),
                                           (0, float("inf"), "location.lon")])
def test_out_of_range_or_non_numeric_coordinates_name_the_field(lat, lon, field):
    refusal = check_location(lat, lon)
    assert isinstance(refusal, Refusal) and refusal.field == field


def test_valid_coordinates_become_a_location():
    assert check_location(90, -180) == Location(90.0, -180.0)
    assert check_location(37.5, 127) == Location(37.5, 127.0)


def test_haversine_gives_the_same_bits_as_the_textbook_spelling():
    """`haversine_km` skips math.radians and the module lookups for speed; the distance must be
    the very same float (the SQL listing and the domain's visibility rule compare it)."""
    def textbook(lat1, lon1, lat2, lon2):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))

    rng = random.Random(16)
    for _ in range(20_000):
        lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
        near = (lat + rng.uniform(-0.05, 0.05), lon + rng.uniform(-0.05, 0.05))
        far = (rng.uniform(-90, 90), rng.uniform(-180, 180))
        for other in (near, far):
            assert haversine_km(lat, lon, *other) == textbook(lat, lon, *other)
    assert haversine_km(0, 0, 0, 180) == textbook(0, 0, 0, 180)  # antipodes: the clamp at 1
