"""The business process of an order through the actors on simpleSystemBase."""

from __future__ import annotations

import time

import pytest

from delivery.actors.client import Rejected
from delivery.actors.messages import Sweep
from delivery.domain import commands as c
from delivery.payment.simulated import SimulatedProvider
from delivery.persistence.db import Database
from delivery.persistence.journal import Journal
from delivery.persistence.readmodel import ReadModel

STATUS_KINDS = {"placed": "order_placed", "paid": "order_paid", "accepted": "order_accepted",
                "cooking": "cooking_started", "cooked": "cooking_finished",
                "picked_up": "order_picked_up", "completed": "delivery_confirmed",
                "cancelled": "order_cancelled", "rejected": "order_rejected"}


def model(world) -> ReadModel:
    return ReadModel(Database.shared(world.runtime.db_path))


def wait_for(predicate, timeout=5.0):
    """Poll a condition of the eventually consistent side (notifications, store inbox)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    assert predicate()


def inbox(world, order_id):
    rows = Database.shared(world.runtime.db_path).execute(
        "SELECT kind FROM store_inbox WHERE store_id = ? AND order_id = ? ORDER BY seq",
        (world.store, order_id))
    return [r[0] for r in rows]


def test_an_order_goes_from_placed_to_completed(world):
    c_, oid = world.client, world.place()
    steps = [lambda: c_.pay(oid, world.customer), lambda: c_.accept(oid, world.store),
             lambda: c_.start_cooking(oid, world.store), lambda: c_.finish_cooking(oid, world.store),
             lambda: c_.pick(oid, world.riders[0]), lambda: c_.confirm(oid, world.customer)]
    statuses = [s()["status"] for s in steps]
    assert statuses == ["paid", "accepted", "cooking", "cooked", "picked_up", "completed"]
    view = model(world).view(oid)  # read-your-writes: projected before the reply
    assert view["status"] == "completed" and view["version"] == 7
    assert view["total"] == 22000 and view["rider_id"] == world.riders[0]
    assert view["payment"] == {"status": "paid", "method": "card"}


def test_every_status_change_notifies_the_customer_exactly_once(world):
    c_, oid = world.client, world.place()
    c_.pay(oid, world.customer)
    c_.accept(oid, world.store)
    c_.start_cooking(oid, world.store)
    c_.finish_cooking(oid, world.store)
    c_.pick(oid, world.riders[1])
    c_.confirm(oid, world.customer)
    expected = [STATUS_KINDS[s] for s in ("placed", "paid", "accepted", "cooking", "cooked",
                                          "picked_up", "completed")]
    wait_for(lambda: len(model(world).notifications("customer", world.customer)) == 7)
    kinds = [n["kind"] for n in reversed(model(world).notifications("customer", world.customer))]
    assert kinds == expected
    world.runtime.call("guardian", Sweep())  # re-driving consumers must not deliver twice
    assert len(model(world).notifications("customer", world.customer)) == 7


def test_cancelling_a_paid_order_refunds_it_and_tells_the_store(world):
    c_, oid = world.client, world.place()
    c_.pay(oid, world.customer)
    view = c_.cancel(oid, world.customer, "ordered twice")
    assert view["status"] == "cancelled" and view["payment"]["status"] == "refund_pending"
    wait_for(lambda: model(world).view(oid)["payment"]["status"] == "refunded")
    wait_for(lambda: inbox(world, oid) == ["new_order", "cancelled", "refunded"])
    wait_for(lambda: [n["kind"] for n in model(world).notifications("store", world.store)]
             == ["refund_completed", "order_cancelled", "new_order"])
    assert SimulatedProvider(world.runtime.db_path).ledger(oid) == {"charge": 1, "refund": 1}


def test_cancelling_an_unpaid_order_needs_no_refund(world):
    oid = world.place()
    view = world.client.cancel(oid, world.customer)
    assert view["status"] == "cancelled" and view["payment"]["status"] == "unpaid"
    assert inbox(world, oid) == []


def test_rejecting_a_paid_order_refunds_it(world):
    c_, oid = world.client, world.place()
    c_.pay(oid, world.customer)
    view = c_.reject(oid, world.store, "out of chicken")
    assert view["status"] == "rejected" and view["reason"] == "out of chicken"
    wait_for(lambda: model(world).view(oid)["payment"]["status"] == "refunded")
    wait_for(lambda: "refund_completed" in
             [n["kind"] for n in model(world).notifications("store", world.store)])
    kinds = [n["kind"] for n in model(world).notifications("customer", world.customer)]
    assert kinds[:2] == ["refund_completed", "order_rejected"]


def test_cancelling_once_cooking_started_is_refused_and_changes_nothing(world):
    c_, oid = world.client, world.place()
    c_.pay(oid, world.customer)
    c_.accept(oid, world.store)
    before = c_.start_cooking(oid, world.store)
    journal = Journal(Database.shared(world.runtime.db_path))
    events_before = len(journal.load(oid))
    with pytest.raises(Rejected) as refused:
        c_.cancel(oid, world.customer)
    assert refused.value.refusal.code == "order_not_cancellable"
    assert "cooking" in refused.value.refusal.detail
    assert len(journal.load(oid)) == events_before
    assert model(world).view(oid) == before


def test_four_riders_picking_one_order_leave_exactly_one_winner(world):
    oid = world.cooked()
    from delivery.domain.commands import PickUp

    futures = [world.runtime.request("riders", PickUp(r, oid)) for r in world.riders]
    replies = [f.result(10) for f in futures]
    winners = [r for r in replies if r.refusal is None]
    losers = [r.refusal.code for r in replies if r.refusal is not None]
    assert len(winners) == 1 and losers == ["already_picked"] * 3
    assert model(world).view(oid)["rider_id"] == winners[0].result["rider_id"]


def test_two_payments_of_one_order_charge_it_once(world):
    oid = world.place()
    futures = [world.runtime.request("orders", c.PayOrder(oid, world.customer, "card", "tok_visa"))
               for _ in range(2)]
    replies = [f.result(10) for f in futures]
    assert sorted(r.refusal.code if r.refusal else "ok" for r in replies) in (
        ["ok", "payment_in_progress"], ["already_paid", "ok"])
    assert SimulatedProvider(world.runtime.db_path).charges(oid) == 1


def test_a_declined_card_leaves_the_order_placed_and_payable(world):
    oid = world.place()
    with pytest.raises(Rejected) as declined:
        world.client.pay(oid, world.customer, "tok_declined")
    assert declined.value.refusal.code == "payment_declined"
    assert model(world).view(oid)["status"] == "placed"
    assert world.client.pay(oid, world.customer)["status"] == "paid"


def test_a_rider_out_of_range_cannot_pick(world):
    from delivery.domain.geo import Location

    oid = world.cooked()
    world.client.move_rider(world.riders[2], Location(37.60, 127.0))
    with pytest.raises(Rejected) as far:
        world.client.pick(oid, world.riders[2])
    assert far.value.refusal.code == "out_of_range"


def test_another_customer_cannot_touch_an_order(world):
    from delivery.domain.geo import Location

    oid = world.place()
    other, _ = world.client.register_customer("Park", "010-9", Location(37.5, 127.0))
    with pytest.raises(Rejected) as hidden:
        world.client.cancel(oid, other)
    assert hidden.value.refusal.code == "not_found"


def test_the_read_model_can_be_rebuilt_from_the_journal(world):
    ids = [world.cooked() for _ in range(3)]
    world.client.cancel(world.place(), world.customer)
    rm = model(world)
    before = {oid: rm.view(oid) for oid in ids}
    assert rm.rebuild(Journal(Database.shared(world.runtime.db_path))) == 4
    assert {oid: rm.view(oid) for oid in ids} == before
