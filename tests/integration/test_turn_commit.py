"""simpleSystemBase: the commands handed to the actors together share one journal commit, however
many hops each takes before it appends (the pump's FlushGroup ends the turn)."""

from __future__ import annotations

import time

from delivery.actors.messages import Batch, Envelope
from delivery.domain.commands import AcceptOrder, PickUp
from delivery.persistence.db import Database
from delivery.persistence.readmodel import ReadModel


def statuses(model: ReadModel, order_ids: list[str]) -> list[str | None]:
    return [getattr(model.state(oid), "status", None) for oid in order_ids]


def test_commands_of_one_turn_share_one_commit_whatever_hops_they_take(world):
    rt, c = world.runtime, world.client
    cooked = [world.cooked() for _ in range(2)]
    paid = [world.place() for _ in range(2)]
    for oid in paid:
        c.pay(oid, world.customer)
    journal = Database.shared(rt.db_path)
    derived = Database.shared(rt.db_path, durable=False)
    before = journal.groups
    written: dict[str, list[str]] = {"journal": [], "derived": []}
    traced = journal.dialect == "sqlite"  # the statements are seen on SQLite's connections
    if traced:
        journal.conn.set_trace_callback(written["journal"].append)
        derived.conn.set_trace_callback(written["derived"].append)
    # A pick-up goes through the riders' registry and the rider before the order appends; an
    # accept goes straight to the order. Handed in as one batch, they are one turn of the pump.
    items = [("riders", Envelope(f"pick{i}", PickUp(world.riders[i], oid)))
             for i, oid in enumerate(cooked)]
    items += [("orders", Envelope(f"accept{i}", AcceptOrder(oid, world.store)))
              for i, oid in enumerate(paid)]
    rt.tell("guardian", Batch(tuple(items)))
    model = ReadModel(Database(rt.db_path, durable=False))
    deadline = time.monotonic() + 10
    while statuses(model, cooked + paid) != ["picked_up"] * 2 + ["accepted"] * 2:
        assert time.monotonic() < deadline, statuses(model, cooked + paid)
        time.sleep(0.02)
    if traced:
        journal.conn.set_trace_callback(None)
        derived.conn.set_trace_callback(None)
        # The views went with the events, in the same commit: no transaction of their own (the
        # derived connection's one transaction is the notifier's notices).
        assert sum(sql.startswith("INSERT INTO order_views") for sql in written["journal"]) == 1
        assert sum(sql == "COMMIT" for sql in written["journal"]) == 1
        assert not any(sql.startswith("INSERT INTO order_views") for sql in written["derived"])
        assert sum(sql.startswith("BEGIN") for sql in written["derived"]) == 1, written["derived"]
    assert journal.groups == before + 1
    # and what came after, one command at a time, commits as before
    assert c.confirm(cooked[0], world.customer)["status"] == "completed"
    assert journal.groups == before + 2
