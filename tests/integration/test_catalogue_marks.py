"""On SQLite the front door keeps the approved stores in memory, by latitude, with the change
marks of the catalogue (directory.py `stores_in_box`): what it lists is what the database would
list, it asks nothing while no store changed, and a registration, a suspension, a move or a
delete by any process shows in the next list. PostgreSQL asks the database every time."""

from __future__ import annotations

import math
import random

import pytest

from delivery.domain.geo import Location, bounding_box
from delivery.domain.menu import MenuItem
from delivery.domain.onboarding import APPROVED
from delivery.persistence import directory
from delivery.persistence.db import Database, database_path
from delivery.persistence.directory import Directory, Store

from .test_holder_marks import Writer
from .test_principals import T, _lookups

CENTER = Location(37.5, 127.03)
MENU = (MenuItem("m1", "Rice", 1000),)


def _store(d: Directory, id: str, lat: float, lon: float, status: str = APPROVED) -> None:
    d.add_store(Store(id, f"Store {id}", "010", Location(lat, lon), MENU), f"tok-{id}", T,
                status=status)


def _listed(d: Directory, center: Location = CENTER, radius_km: float = 3.0) -> list[str]:
    return [s.id for s in d.stores_in_box(center, radius_km)]


def _asked(d: Directory, center: Location, radius_km: float) -> list[str]:
    """What the database answers for the box, by latitude, longitude and id."""
    return [r[0] for r in d.db.execute(
        "SELECT id FROM stores WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ? AND status = ?"
        " ORDER BY lat, lon, id", (*bounding_box(center, radius_km), APPROVED))]


def test_the_kept_catalogue_lists_exactly_what_the_database_would(here):
    rng = random.Random(16)
    box = bounding_box(CENTER, 3.0)
    edges = [(box[0], CENTER.lon), (box[1], CENTER.lon), (CENTER.lat, box[2]),
             (CENTER.lat, box[3]), (box[0], box[2]), (box[1], box[3])]
    just_out = [(math.nextafter(box[0], -90), CENTER.lon),
                (math.nextafter(box[1], 90), CENTER.lon),
                (CENTER.lat, math.nextafter(box[2], -180)),
                (CENTER.lat, math.nextafter(box[3], 180))]
    places = edges + just_out + [(CENTER.lat, CENTER.lon)] * 3 + [
        (CENTER.lat + rng.uniform(-0.08, 0.08), CENTER.lon + rng.uniform(-0.1, 0.1))
        for _ in range(90)]
    for i, (lat, lon) in enumerate(places):
        _store(here, f"sto_{i:03d}", lat, lon, APPROVED if i % 7 else "suspended")
    listed = _listed(here)
    assert listed == _asked(here, CENTER, 3.0)
    assert {f"sto_{i:03d}" for i in range(len(edges)) if i % 7} <= set(listed)  # edges are in
    assert not {f"sto_{i:03d}" for i in range(len(edges), len(edges) + len(just_out))} & set(listed)
    for _ in range(60):
        center = Location(CENTER.lat + rng.uniform(-0.1, 0.1), CENTER.lon + rng.uniform(-0.1, 0.1))
        radius = rng.choice([0.0, 0.5, 1.0, 3.0, 10.0, 100.0])
        assert _listed(here, center, radius) == _asked(here, center, radius)


def test_the_catalogue_is_read_again_only_after_a_store_changed(here, storage):
    _store(here, "sto_1", CENTER.lat, CENTER.lon)
    before = _lookups(here)
    for _ in range(5):
        assert _listed(here) == ["sto_1"]
    if storage:  # PostgreSQL: nodes on other hosts, no marks; the database each time
        assert _lookups(here) - before == 5
        return
    assert _lookups(here) - before == 1  # SQLite: once, then from memory
    here.add_customer("cus_1", "Kim", "010", CENTER, "tok-customer", T)  # not a store: kept
    before = _lookups(here)
    assert _listed(here) == ["sto_1"]
    assert _lookups(here) - before == 0
    _store(here, "sto_2", CENTER.lat + 0.001, CENTER.lon)
    before = _lookups(here)
    assert _listed(here) == ["sto_1", "sto_2"]
    assert _listed(here) == ["sto_1", "sto_2"]
    assert _lookups(here) - before == 1


@pytest.mark.timeout(120)
def test_store_changes_written_by_another_process_show_in_the_next_list(here, tmp_path, storage):
    there = Writer(storage or str(database_path(tmp_path / "data")))
    try:
        there.run("""
            from delivery.domain.menu import MenuItem
            from delivery.persistence.directory import Store
            menu = (MenuItem("m1", "R", 1),)
            d.add_store(Store("sto_1", "A", "010", Location(37.5, 127.03), menu), "tok-1", "t",
                        status="approved")
        """)
        for _ in range(3):  # warm: kept
            assert _listed(here) == ["sto_1"]
        everything = here.db.marks.counters[0] if here.db.marks else None
        there.run("""
            d.add_store(Store("sto_2", "B", "010", Location(37.501, 127.03), menu), "tok-2", "t",
                        status="approved")
        """)
        assert _listed(here) == ["sto_1", "sto_2"]
        there.run('d.set_status("stores", "sto_1", "suspended")')
        assert _listed(here) == ["sto_2"]
        there.run('db.execute("UPDATE stores SET lat = 38.0 WHERE id = ?", ("sto_2",))')  # moved
        assert _listed(here) == []
        there.run('d.set_status("stores", "sto_1", "approved")')
        assert _listed(here) == ["sto_1"]
        there.run("""
            with db.grouped() as conn:
                conn.execute("DELETE FROM stores WHERE id = ?", ("sto_1",))
            db.flush()
        """)
        assert _listed(here) == []
        if everything is not None:  # the stores' own marks did it, not an opening
            assert here.db.marks.counters[0] == everything
    finally:
        there.close()


def test_with_more_stores_than_kept_the_database_is_asked_until_there_are_fewer(here, storage,
                                                                                monkeypatch):
    monkeypatch.setattr(directory, "CATALOGUE_KEPT", 2)
    for i in range(3):
        _store(here, f"sto_{i}", CENTER.lat + i * 0.001, CENTER.lon)
    assert _listed(here) == ["sto_0", "sto_1", "sto_2"]
    before = _lookups(here)
    for _ in range(3):
        assert _listed(here) == ["sto_0", "sto_1", "sto_2"]
    assert _lookups(here) - before == 3
    here.set_status("stores", "sto_1", "suspended")  # two left: kept again
    assert _listed(here) == ["sto_0", "sto_2"]
    before = _lookups(here)
    assert _listed(here) == ["sto_0", "sto_2"]
    assert _lookups(here) - before == (1 if storage else 0)


@pytest.mark.sqlite_only
def test_a_mark_of_everything_and_only_a_listed_change_read_the_catalogue_again(here):
    _store(here, "sto_1", CENTER.lat, CENTER.lon)
    _listed(here)
    here.revoke_token("stores", "sto_1")  # a new token: nothing the list shows
    before = _lookups(here)
    assert _listed(here) == ["sto_1"]
    assert _lookups(here) - before == 0
    here.db.marks.mark_everything()  # another process opened the file
    assert _listed(here) == ["sto_1"]
    assert _lookups(here) - before == 1


@pytest.mark.sqlite_only
def test_a_store_changed_between_the_catalogue_s_read_and_its_keeping_is_seen_next(here,
                                                                                 tmp_path):
    """The marks are taken before the read: a change committed (and marked) after the read
    makes what was read stale, instead of being hidden behind marks taken after it."""
    _store(here, "sto_1", CENTER.lat, CENTER.lon)
    other = Directory(Database(database_path(tmp_path / "data")))
    execute = here.db.execute

    def read_then_change(sql, params=()):
        rows = execute(sql, params).fetchall()
        if "ORDER BY lat, lon, id LIMIT" in sql:
            other.set_status("stores", "sto_1", "suspended")  # lands after the read
        return _Rows(rows)

    try:
        here.db.execute = read_then_change
        assert _listed(here) == ["sto_1"]  # as read
        here.db.execute = execute
        assert _listed(here) == []  # the change is seen at the next list
    finally:
        here.db.execute = execute
        other.db.close()


class _Rows(list):
    def fetchall(self) -> list:
        return list(self)
