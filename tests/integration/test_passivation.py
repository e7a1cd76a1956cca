"""Registries bound the live entity actors and re-activate passivated ones from the journal."""

from __future__ import annotations

from delivery.persistence.db import Database
from delivery.persistence.readmodel import ReadModel

from .conftest import World, start_runtime


def test_ten_times_the_cap_of_orders_never_makes_more_live_actors_and_all_go_on(tmp_path):
    rt = start_runtime(tmp_path, **{"actors.max_live_orders": 3})
    try:
        w = World(rt)
        ids, peak = [], 0
        for _ in range(30):
            ids.append(w.place())
            peak = max(peak, rt.stats().live["order"])
        for oid in ids:  # every one was passivated at some point and comes back with its state
            assert w.client.pay(oid, w.customer)["version"] == 2
            peak = max(peak, rt.stats().live["order"])
        assert peak <= 3
        for oid in ids[:5]:
            w.client.accept(oid, w.store)
        assert all(ReadModel(Database.shared(rt.db_path)).view(o)["status"] == "accepted"
                   for o in ids[:5])
    finally:
        rt.stop()


def test_a_finished_order_is_passivated_at_once_and_its_messages_are_still_counted(world):
    oid = world.cooked()
    world.client.pick(oid, world.riders[0])
    before = world.runtime.messages_total()
    world.client.confirm(oid, world.customer)
    stats = world.runtime.stats()
    assert stats.live["order"] == 0
    assert world.runtime.messages_total() > before  # the retired actor's count was kept
    assert any(a.kind == "registry" and "passivations=" in a.state for a in stats.actors)
