"""A charge the provider booked but whose answer never reached the order (a gateway crash, a
given-up call, a killed service) is found in the provider's listing and recorded on the order."""

from __future__ import annotations

import time

from delivery import clock
from delivery.payment.simulated import SimulatedProvider
from delivery.persistence.db import Database
from delivery.persistence.readmodel import ReadModel

from .conftest import World, start_runtime


def _wait(runtime, predicate, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        runtime.stats()  # on simpleSystemBase timers fire only while someone talks to the system
        time.sleep(0.05)
    return predicate()


def test_a_charge_whose_answer_was_lost_makes_the_order_paid_and_reach_its_store(tmp_path):
    rt = start_runtime(tmp_path, **{"actors.reply_timeout_s": 1.0})
    try:
        w = World(rt)
        lost, untouched = w.place(), w.place()
        model = ReadModel(Database.shared(rt.db_path))
        total = model.view(lost)["total"]
        # The provider booked it; the order never heard (as when the gateway died mid-call).
        SimulatedProvider(rt.db_path).charge(lost, total, "tok_visa", clock.now())

        assert _wait(rt, lambda: model.view(lost)["status"] == "paid")
        view = model.view(lost)
        assert view["payment"]["status"] == "paid" and view["total"] == total
        assert _wait(rt, lambda: [e["order_id"] for e in model.store_inbox(w.store)] == [lost])
        assert model.view(untouched)["status"] == "placed"  # no charge, no payment
        assert SimulatedProvider(rt.db_path).charges(lost) == 1
    finally:
        rt.stop()


def test_many_lost_answers_are_all_recorded_within_one_grace_not_one_per_sweep(tmp_path):
    rt = start_runtime(tmp_path, **{"actors.reply_timeout_s": 1.0})
    try:
        w = World(rt)
        orders = [w.place() for _ in range(20)]
        model = ReadModel(Database.shared(rt.db_path))
        provider = SimulatedProvider(rt.db_path)
        for oid in orders:
            provider.charge(oid, model.view(oid)["total"], "tok_visa", clock.now())

        # One grace (2.22 s here) for all of them; one grace each would take 20 x 2.22 s.
        assert _wait(rt, lambda: all(model.view(o)["status"] == "paid" for o in orders), 15.0)
    finally:
        rt.stop()


def test_a_charge_found_for_an_order_cancelled_unpaid_is_refunded(tmp_path):
    rt = start_runtime(tmp_path, **{"actors.reply_timeout_s": 1.0})
    try:
        w = World(rt)
        oid = w.place()
        model = ReadModel(Database.shared(rt.db_path))
        total = model.view(oid)["total"]
        provider = SimulatedProvider(rt.db_path)
        provider.charge(oid, total, "tok_visa", clock.now())  # the answer never came back
        w.client.cancel(oid, w.customer)  # the customer, told to pay later, gave up

        assert _wait(rt, lambda: model.view(oid)["payment"]["status"] == "refunded")
        assert model.view(oid)["status"] == "cancelled"
        assert provider.ledger(oid) == {"charge": 1, "refund": 1}
        # The notifier words the notices after the projector wrote the view: wait for them too.
        def kinds() -> set[str]:
            return {n["kind"] for n in model.notifications("customer", w.customer)}
        assert _wait(rt, lambda: {"payment_after_cancel", "refund_completed"} <= kinds()), kinds()
    finally:
        rt.stop()
