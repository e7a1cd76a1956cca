"""Every transition of the order state machine, allowed and refused, with its code."""

import pytest

from delivery.domain import commands as c
from delivery.domain import events as e
from delivery.domain import order
from delivery.domain.geo import Location
from delivery.domain.menu import MenuItem
from delivery.domain.refusal import Refusal

T = "2026-11-23T10:00:00.000000Z"
MENU = {"m1": MenuItem("m1", "Fried chicken", 18000), "m2": MenuItem("m2", "Cola", 2000)}
ADDRESS = c.Address(37.5, 127.0, "Gangnam-daero 1")
NEAR = Location(37.501, 127.001)   # about 140 m from ADDRESS
FAR = Location(37.6, 127.0)        # about 11 km from ADDRESS


def placed() -> order.OrderState:
    events = order.place(c.PlaceOrder("o1", "c1", "s1", (("m1", 1), ("m2", 2)), ADDRESS), MENU, T)
    return order.replay(events)


def step(state, cmd):
    decision = order.decide(state, cmd, T)
    assert not isinstance(decision, Refusal), decision
    for event in decision:
        state = order.evolve(state, event)
    return state


def pay(s):
    return step(s, c.RecordPayment("o1", "pay_1", "card", s.total))


def accept(s):
    return step(s, c.AcceptOrder("o1", "s1"))


def start(s):
    return step(s, c.StartCooking("o1", "s1"))


def finish(s):
    return step(s, c.FinishCooking("o1", "s1"))


def pick(s, rider="r1"):
    return step(s, c.PickUpOrder("o1", rider, NEAR, 3.0))


def confirm(s):
    return step(s, c.ConfirmDelivery("o1", "c1"))


PATH = [pay, accept, start, finish, pick, confirm]


def at(status: str) -> order.OrderState:
    """An order walked along the happy path until it reaches `status`."""
    s = placed()
    for move in PATH:
        if s.status == status:
            return s
        s = move(s)
    assert s.status == status
    return s


def test_a_new_order_is_placed_unpaid_with_its_total():
    s = placed()
    assert (s.status, s.payment_status, s.total, s.version) == ("placed", "unpaid", 22000, 1)
    assert s.history == (("placed", T),)


def test_the_happy_path_visits_every_status_in_order_and_versions_rise_by_one():
    s = placed()
    for move in PATH:
        before = s.version
        s = move(s)
        assert s.version == before + 1
    assert [h[0] for h in s.history] == ["placed", "paid", "accepted", "cooking", "cooked",
                                         "picked_up", "completed"]
    assert s.payment_status == "paid" and s.rider_id == "r1" and s.is_final


@pytest.mark.parametrize("status", ["placed", "paid", "accepted"])
def test_an_order_can_be_cancelled_before_cooking(status):
    s = step(at(status), c.CancelOrder("o1", "c1", "too slow"))
    assert s.status == "cancelled" and s.reason == "too slow"
    assert s.payment_status == ("unpaid" if status == "placed" else "refund_pending")


@pytest.mark.parametrize("status", ["cooking", "cooked", "picked_up", "completed"])
def test_cancelling_once_cooking_started_is_refused(status):
    decision = order.decide(at(status), c.CancelOrder("o1", "c1", "late"), T)
    assert isinstance(decision, Refusal) and decision.code == "order_not_cancellable"
    assert status in decision.detail


def test_a_cancelled_order_cannot_be_cancelled_again():
    s = step(placed(), c.CancelOrder("o1", "c1", "x"))
    assert order.decide(s, c.CancelOrder("o1", "c1", "x"), T).code == "order_not_cancellable"


def test_rejecting_a_paid_order_makes_its_refund_pending_then_refunded():
    s = step(at("paid"), c.RejectOrder("o1", "s1", "sold out"))
    assert (s.status, s.payment_status, s.reason) == ("rejected", "refund_pending", "sold out")
    assert not s.is_final
    s = step(s, c.RecordRefund("o1", "re_1", 22000))
    assert s.payment_status == "refunded" and s.is_final


def test_a_refund_recorded_twice_changes_nothing():
    s = step(step(at("paid"), c.RejectOrder("o1", "s1", "x")), c.RecordRefund("o1", "re_1", 22000))
    assert order.decide(s, c.RecordRefund("o1", "re_1", 22000), T) == ()


def test_a_refund_of_an_order_without_pending_refund_is_refused():
    assert order.decide(at("paid"), c.RecordRefund("o1", "re", 1), T).code == "invalid_transition"


# Every (status, command) pair outside the allowed transitions is refused with invalid_transition
# or the command's own conflict code, and the refusal names the current status.
STORE_STEPS = {
    "accept": (c.AcceptOrder("o1", "s1"), "paid"),
    "reject": (c.RejectOrder("o1", "s1", "x"), "paid"),
    "start": (c.StartCooking("o1", "s1"), "accepted"),
    "finish": (c.FinishCooking("o1", "s1"), "cooking"),
    "confirm": (c.ConfirmDelivery("o1", "c1"), "picked_up"),
}
REACHABLE = ["placed", "paid", "accepted", "cooking", "cooked", "picked_up", "completed"]


@pytest.mark.parametrize("name", STORE_STEPS)
@pytest.mark.parametrize("status", REACHABLE)
def test_store_and_confirm_steps_only_from_their_source_status(name, status):
    cmd, source = STORE_STEPS[name]
    decision = order.decide(at(status), cmd, T)
    if status == source:
        assert isinstance(decision, tuple) and len(decision) == 1
    else:
        assert isinstance(decision, Refusal) and decision.code == "invalid_transition"
        assert status in decision.detail


@pytest.mark.parametrize("status", ["cancelled", "rejected"])
@pytest.mark.parametrize("name", STORE_STEPS)
def test_nothing_moves_a_cancelled_or_rejected_order(status, name):
    s = at("paid")
    s = step(s, c.CancelOrder("o1", "c1", "x") if status == "cancelled"
             else c.RejectOrder("o1", "s1", "x"))
    assert order.decide(s, STORE_STEPS[name][0], T).code == "invalid_transition"


def test_paying_is_checked_before_charging():
    pay_cmd = c.PayOrder("o1", "c1", "card", "tok")
    assert order.check_payable(placed(), pay_cmd) is None
    assert order.check_payable(at("paid"), pay_cmd).code == "already_paid"
    assert order.check_payable(at("cooking"), pay_cmd).code == "already_paid"
    cancelled = step(placed(), c.CancelOrder("o1", "c1", "x"))
    assert order.check_payable(cancelled, pay_cmd).code == "invalid_transition"
    assert order.check_payable(placed(), c.PayOrder("o1", "c1", "cash", "t")).field == "method"
    assert order.check_payable(None, pay_cmd).code == "not_found"


def test_a_repeated_payment_approval_changes_nothing():
    assert order.decide(at("paid"), c.RecordPayment("o1", "pay_1", "card", 22000), T) == ()


def test_the_first_pick_wins_and_every_other_rider_is_refused():
    s = pick(at("cooked"), "r1")
    refusal = order.decide(s, c.PickUpOrder("o1", "r2", NEAR, 3.0), T)
    assert refusal.code == "already_picked"
    assert order.decide(s, c.PickUpOrder("o1", "r1", NEAR, 3.0), T) == ()  # winner's retry


def test_a_rider_too_far_away_or_without_location_is_out_of_range():
    s = at("cooked")
    assert order.decide(s, c.PickUpOrder("o1", "r1", FAR, 3.0), T).code == "out_of_range"
    assert order.decide(s, c.PickUpOrder("o1", "r1", None, 3.0), T).code == "out_of_range"
    assert order.decide(s, c.PickUpOrder("o1", "r1", FAR, 20.0), T) != ()


def test_an_order_not_yet_cooked_cannot_be_picked():
    assert order.decide(at("cooking"), c.PickUpOrder("o1", "r1", NEAR, 3.0), T).code == \
        "invalid_transition"


def test_someone_elses_order_looks_like_no_order_at_all():
    s = at("paid")
    assert order.decide(s, c.AcceptOrder("o1", "s2"), T).code == "not_found"
    assert order.decide(s, c.CancelOrder("o1", "c2", "x"), T).code == "not_found"
    assert order.check_payable(placed(), c.PayOrder("o1", "c2", "card", "t")).code == "not_found"
    assert order.decide(None, c.AcceptOrder("o9", "s1"), T).code == "not_found"


def test_placing_against_an_unknown_store_or_item_is_refused_naming_the_field():
    cmd = c.PlaceOrder("o1", "c1", "s9", (("m1", 1),), ADDRESS)
    assert order.place(cmd, None, T).field == "store_id"
    bad = c.PlaceOrder("o1", "c1", "s1", (("m1", 1), ("zz", 1)), ADDRESS)
    refusal = order.place(bad, MENU, T)
    assert (refusal.code, refusal.field) == ("unknown_menu_item", "items[1].menu_item_id")


def test_placing_the_same_order_id_again_is_idempotent_for_its_customer_only():
    s = placed()
    again = c.PlaceOrder("o1", "c1", "s1", (("m1", 1),), ADDRESS)
    assert order.decide(s, again, T) == ()
    other = c.PlaceOrder("o1", "c2", "s1", (("m1", 1),), ADDRESS)
    assert order.decide(s, other, T).code == "conflict"


def test_events_carry_order_id_event_id_version_and_time():
    s = placed()
    (paid,) = order.decide(s, c.RecordPayment("o1", "p", "card", 1), T)
    assert isinstance(paid, e.OrderPaid)
    assert (paid.order_id, paid.event_id, paid.version, paid.at) == ("o1", "o1:2", 2, T)


def test_the_view_has_every_field_of_the_api():
    v = order.view(pick(at("cooked")))
    assert set(v) >= {"id", "customer_id", "store_id", "status", "items", "total", "payment",
                      "rider_id", "delivery_address", "history", "created_at", "updated_at",
                      "version"}
    assert v["items"][1] == {"menu_item_id": "m2", "name": "Cola", "price": 2000, "quantity": 2}
    assert v["payment"] == {"status": "paid", "method": "card"}
    assert v["delivery_address"] == {"lat": 37.5, "lon": 127.0, "text": "Gangnam-daero 1"}


def test_only_cooked_unpicked_orders_near_the_rider_are_visible():
    assert order.visible_to_rider(at("cooked"), NEAR, 3.0)
    assert not order.visible_to_rider(at("cooked"), FAR, 3.0)
    assert not order.visible_to_rider(at("cooked"), None, 3.0)
    assert not order.visible_to_rider(at("cooking"), NEAR, 3.0)
    assert not order.visible_to_rider(pick(at("cooked")), NEAR, 3.0)


def test_a_payment_recorded_after_an_unpaid_cancel_is_refunded():
    cancelled = step(placed(), c.CancelOrder("o1", "c1", "changed my mind"))
    late = step(cancelled, c.RecordPayment("o1", "pay_late", "card", cancelled.total))
    assert (late.status, late.payment_status, late.payment_id) == ("cancelled", "refund_pending",
                                                                   "pay_late")
    assert step(late, c.RecordRefund("o1", "re_1", late.total)).payment_status == "refunded"
    assert order.decide(late, c.RecordPayment("o1", "pay_late", "card", late.total), T) == ()
