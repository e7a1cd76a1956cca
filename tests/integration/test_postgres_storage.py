"""The PostgreSQL adapter keeps the promises the SQLite one keeps: group commit, one writer at a
time (so journal sequence numbers become visible in order), a lost or paused session losing
only what was never acknowledged, and the same tables."""

from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest

from delivery.domain.events import OrderCancelled
from delivery.persistence import db as dbmod
from delivery.persistence.db import COMMITTED, FAILED, Database
from delivery.persistence.faults import StorageFault
from delivery.persistence.journal import ConcurrencyConflict, Journal
from delivery.persistence.pg import MIGRATIONS, migrate

pytestmark = pytest.mark.postgres_only


def event(order_id: str, version: int) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, version=version, at="2026-11-26T10:00:00Z",
                          event_id=f"{order_id}-{version}", reason="test")


def other(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def test_a_group_is_invisible_until_its_flush_and_a_failed_part_leaves_the_rest(storage):
    db = Database(storage)
    journal = Journal(db)
    try:
        journal.append([event("o1", 1)], "c", "s", grouped=True)
        with pytest.raises(ConcurrencyConflict):
            journal.append([event("o1", 1)], "c", "s", grouped=True)  # same version: refused
        journal.append([event("o2", 1)], "c", "s", grouped=True)
        gen = db.group_gen
        with other(storage) as peek:
            assert peek.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
            assert db.flush() == 2
            assert peek.execute("SELECT order_id FROM events ORDER BY seq").fetchall() == \
                [("o1",), ("o2",)]
        assert db.outcome(gen) == COMMITTED
    finally:
        db.close()


def test_durable_sessions_wait_for_the_wal_and_derived_ones_do_not(storage):
    durable, derived = Database(storage), Database(storage, durable=False)
    try:
        assert durable.execute("SHOW synchronous_commit").fetchone()[0] == "on"
        assert derived.execute("SHOW synchronous_commit").fetchone()[0] == "off"
    finally:
        durable.close()
        derived.close()


def test_a_writer_waits_for_an_open_group_so_sequence_numbers_show_in_commit_order(storage):
    first, second = Database(storage), Database(storage)
    try:
        Journal(first).append([event("o1", 1)], "c", "s", grouped=True)  # seq 1, not committed
        done = threading.Event()

        def append_second() -> None:
            Journal(second).append([event("o2", 1)], "c", "s")
            done.set()
        writer = threading.Thread(target=append_second)
        writer.start()
        # Without the write lock o2 (seq 2) could commit first, and a consumer reading "after
        # seq 1" later would never see o1.
        assert not done.wait(0.5)
        first.flush()
        writer.join(10)
        assert done.is_set()
        seqs = dict(first.execute("SELECT order_id, seq FROM events").fetchall())
        assert seqs["o1"] < seqs["o2"]
    finally:
        first.close()
        second.close()


def test_a_killed_session_fails_its_write_and_the_next_write_reconnects(storage):
    db = Database(storage)
    journal = Journal(db)
    try:
        journal.append([event("o1", 1)], "c", "s")
        with other(storage) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (db.conn.raw.info.backend_pid,))
        with pytest.raises(StorageFault):
            journal.append([event("o1", 2)], "c", "s")
        journal.append([event("o1", 2)], "c", "s")  # a new session, nothing lost or doubled
        assert [e.version for e in journal.load("o1")] == [1, 2]
    finally:
        db.close()


def test_a_paused_writer_is_ended_by_the_server_and_its_group_is_lost_not_half_kept(storage,
                                                                                   monkeypatch):
    monkeypatch.setattr(dbmod, "IDLE_IN_TRANSACTION_MS", 300)
    paused, live = Database(storage), Database(storage)
    try:
        Journal(paused).append([event("o1", 1)], "c", "s", grouped=True)  # then it "pauses"
        gen = paused.group_gen
        started = time.monotonic()
        Journal(live).append([event("o2", 1)], "c", "s")  # waits for the server to end it
        assert time.monotonic() - started < 5
        with pytest.raises(StorageFault):
            paused.flush()  # it resumes: the group was never committed, and it learns so
        assert paused.outcome(gen) == FAILED
        assert [r[0] for r in live.execute("SELECT order_id FROM events")] == ["o2"]
        Journal(paused).append([event("o1", 1)], "c", "s")  # and it works again
    finally:
        paused.close()
        live.close()


def test_migrations_are_applied_once_and_give_the_tables_of_the_sqlite_schema(storage, tmp_path):
    Database(storage).close()  # applies them
    assert migrate(storage) == 0  # once per process; and in the database:
    with other(storage) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert versions == sorted(int(p.name.split("_")[0]) for p in MIGRATIONS.glob("*.sql"))
        pg = {}
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name != 'schema_migrations'"):
            pg.setdefault(table, set()).add(column)
    Database(tmp_path / "delivery.sqlite3").close()
    lite = sqlite3.connect(tmp_path / "delivery.sqlite3")
    tables = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                         " AND name NOT LIKE 'sqlite_%'")]
    sq = {t: {r[1] for r in lite.execute(f"PRAGMA table_info({t})")} for t in tables}
    lite.close()
    # PostgreSQL spells out the rowid that SQLite tables have implicitly; otherwise the same.
    assert {t: cols - {"rowid"} for t, cols in pg.items()} == sq


def _indexes(storage: str, tmp_path, table: str) -> tuple[dict[str, str], set[str]]:
    """`table`'s indexes on PostgreSQL (name -> definition) and on SQLite (names; not those of
    its constraints), each database made by the service's own schema."""
    Database(storage).close()
    with other(storage) as conn:
        pg = {name: sql for name, sql in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,))}
    Database(tmp_path / "delivery.sqlite3").close()
    lite = sqlite3.connect(tmp_path / "delivery.sqlite3")
    named = {r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                        " AND tbl_name = ? AND sql IS NOT NULL", (table,))}
    lite.close()
    return pg, named


def test_the_journal_keeps_the_same_indexes_as_on_sqlite_none_on_event_id(storage, tmp_path):
    """Every index of the journal is written on every append (migration 0004): event_id is
    unique through (order_id, version), and only OrderPlaced events are indexed by customer."""
    pg, named = _indexes(storage, tmp_path, "events")
    assert named == {"events_by_store", "events_placed_by_customer"}
    assert set(pg) == named | {"events_pkey", "events_order_id_version_key"}
    assert "WHERE (kind = 'OrderPlaced'::text)" in pg["events_placed_by_customer"]
    assert not any("event_id" in sql for sql in pg.values())


def test_the_read_model_keeps_the_same_indexes_as_on_sqlite(storage, tmp_path):
    """Migration 0005: the orders a rider may pick, by place, on both adapters."""
    pg, named = _indexes(storage, tmp_path, "order_views")
    assert "order_views_waiting" in named
    assert set(pg) == named | {"order_views_pkey"}
    assert "WHERE ((status = 'cooked'::text) AND (rider_id IS NULL))" in pg["order_views_waiting"]
