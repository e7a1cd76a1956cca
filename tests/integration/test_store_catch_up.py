"""A store whose inbox fell behind the journal while nothing was left to nudge it (the service
was killed after the projector moved on) catches up by the guardian's sweep after a restart."""

from __future__ import annotations

import time

from delivery.persistence import checkpoints
from delivery.persistence.db import Database
from delivery.persistence.readmodel import ReadModel

from .conftest import World, start_runtime


def test_a_store_left_behind_at_a_restart_receives_its_paid_orders_without_any_new_command(tmp_path):
    rt = start_runtime(tmp_path)
    try:
        w = World(rt)
        paid = [w.place() for _ in range(3)]
        for oid in paid:
            w.client.pay(oid, w.customer)
        store, path = w.store, rt.db_path
    finally:
        rt.stop()
    # As if the kill came after the projector's commit and before the store's.
    db = Database(path)
    with db.transaction() as conn:
        conn.execute("DELETE FROM store_inbox WHERE store_id = ?", (store,))
        conn.execute("DELETE FROM checkpoints WHERE name = ?", (checkpoints.store_inbox(store),))
    db.close()

    rt = start_runtime(tmp_path)
    try:
        model = ReadModel(Database.shared(rt.db_path))
        deadline = time.monotonic() + 10
        while len(model.store_inbox(store)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            rt.stats()  # on simpleSystemBase timers fire only while someone talks to the system
        assert [e["order_id"] for e in model.store_inbox(store)] == paid
    finally:
        rt.stop()
