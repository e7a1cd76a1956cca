"""simpleSystemBase: the commands handed to the actors together share one journal commit, however
many hops each takes before it appends (the pump's FlushGroup ends the turn)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from delivery.actors.messages import Batch, Envelope
from delivery.actors.registry import Registry
from delivery.domain.commands import AcceptOrder, PickUp
from delivery.persistence.db import Database, statements_traced
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
        journal.conn.set_trace_callback(statements_traced(written["journal"].append))
        derived.conn.set_trace_callback(statements_traced(written["derived"].append))
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
    # the console's commits/group counts the turn's commands, not the views' write with them
    assert journal.group_size == len(items), journal.group_size
    # and what came after, one command at a time, commits as before
    assert c.confirm(cooked[0], world.customer)["status"] == "completed"
    assert journal.groups == before + 2


def test_a_request_that_fails_in_a_batch_fails_alone(world, monkeypatch, caplog):
    """A registry takes a turn's requests as one Batch; one that its handler fails on comes back
    to its requester as failed (as it would alone) and the others of the batch go on."""
    rt = world.runtime
    paid = [world.place() for _ in range(2)]
    for oid in paid:
        world.client.pay(oid, world.customer)
    route = Registry.route

    def failing(self, key, message):
        if key == "ord_boom":
            raise RuntimeError("injected: the registry fails on this request")
        return route(self, key, message)

    monkeypatch.setattr(Registry, "route", failing)
    items = [("orders", Envelope("first", AcceptOrder(paid[0], world.store))),
             ("orders", Envelope("boom", AcceptOrder("ord_boom", world.store))),
             ("orders", Envelope("after", AcceptOrder(paid[1], world.store)))]
    rt.tell("guardian", Batch(tuple(items)))
    model = ReadModel(Database(rt.db_path, durable=False))
    deadline = time.monotonic() + 10
    while statuses(model, paid) != ["accepted", "accepted"]:
        assert time.monotonic() < deadline, statuses(model, paid)
        time.sleep(0.02)
    assert "order registry failed on AcceptOrder" in caplog.text
    # each handled once: the one before the failure was not run again by a retry of the batch
    accepted = Database(rt.db_path, durable=False).execute(
        "SELECT COUNT(*) FROM events WHERE kind = 'OrderAccepted'").fetchone()[0]
    assert accepted == 2


@pytest.mark.sqlite_only  # the error is SQLite's
def test_a_view_read_that_fails_does_not_take_the_journal_s_group_with_it(world, monkeypatch):
    """The projector works out the views' states before it joins the journal's group: a read of
    a view that fails (its own connection) leaves the group alone, and the views are written
    after the commit instead."""
    oid = world.place()
    evolved, failures = ReadModel.evolved, [0]

    def failing_once(self, records):
        if not failures[0]:
            failures[0] += 1
            error = sqlite3.OperationalError("disk I/O error")
            error.sqlite_errorcode = sqlite3.SQLITE_IOERR  # as SQLite raises it: a storage error
            raise error
        return evolved(self, records)

    monkeypatch.setattr(ReadModel, "evolved", failing_once)
    assert world.client.pay(oid, world.customer)["status"] == "paid"  # not refused
    assert failures[0] == 1
    model = ReadModel(Database(world.runtime.db_path, durable=False))
    assert model.view(oid)["status"] == "paid"
