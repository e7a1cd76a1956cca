"""A data directory written by an earlier version opens with its data where the tables are now."""

import sqlite3

from delivery.domain import order
from delivery.domain.geo import Location
from delivery.persistence.db import Database, database_path
from delivery.persistence.journal import Journal
from delivery.persistence.outbox import WebhookOutbox
from delivery.persistence.readmodel import ReadModel


def test_the_old_webhook_deliveries_table_becomes_the_webhook_outbox_with_its_rows(tmp_path):
    path = database_path(tmp_path)
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE deliveries (notice_id TEXT NOT NULL, channel TEXT NOT NULL, payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, delivered_at TEXT,
            last_error TEXT, PRIMARY KEY (notice_id, channel));
        CREATE INDEX deliveries_due ON deliveries (delivered_at, next_at);
        INSERT INTO deliveries (notice_id, channel, payload, next_at) VALUES ('n1', 'webhook', '{}', 0);
    """)
    old.close()

    db = Database(path)
    try:
        assert [e.notice_id for e in WebhookOutbox(db).due(now=1.0, limit=10)] == ["n1"]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "deliveries" not in tables
    finally:
        db.close()


def test_a_journal_of_an_earlier_version_gets_the_partial_index_by_customer(tmp_path):
    """The index of every event by customer becomes one of OrderPlaced events only (fewer pages
    written per append); the unpaid-orders count is the same and reads through it."""
    path = database_path(tmp_path)
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id TEXT NOT NULL, version INTEGER NOT NULL,
            customer_id TEXT NOT NULL, store_id TEXT NOT NULL,
            kind TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE, at TEXT NOT NULL, body BLOB NOT NULL,
            UNIQUE (order_id, version));
        CREATE INDEX events_by_store ON events (store_id, seq);
        CREATE INDEX events_by_customer ON events (customer_id, kind, at);
        INSERT INTO events (order_id, version, customer_id, store_id, kind, event_id, at, body)
        VALUES ('o1', 1, 'c1', 's1', 'OrderPlaced', 'o1:1', '2026-11-27T01:00:00Z', x''),
               ('o2', 1, 'c1', 's1', 'OrderPlaced', 'o2:1', '2026-11-27T01:00:01Z', x''),
               ('o2', 2, 'c1', 's1', 'OrderPaid', 'o2:2', '2026-11-27T01:00:02Z', x''),
               ('o3', 1, 'c2', 's1', 'OrderPlaced', 'o3:1', '2026-11-27T01:00:03Z', x'');
    """)
    old.close()

    db = Database(path)
    try:
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                            " AND tbl_name = 'events' AND sql IS NOT NULL")}
        assert indexes == {"events_by_store", "events_placed_by_customer"}
        asked: list[str] = []
        db.conn.set_trace_callback(asked.append)  # the count's own statement, values bound
        assert Journal.unpaid_orders(db.conn, "c1", "2026-11-27T00:00:00Z") == 1
        db.conn.set_trace_callback(None)
        plan = " ".join(str(r) for r in db.execute(f"EXPLAIN QUERY PLAN {asked[-1]}"))
        assert "events_placed_by_customer" in plan, plan
    finally:
        db.close()


def test_a_riders_list_reads_the_waiting_orders_index_also_in_a_data_directory_of_before(tmp_path):
    """A read model made before order_views_waiting gets it when opened, and the rider's list
    reads through it (the band of latitude around the rider), listing the same orders."""
    path = database_path(tmp_path)
    Database(path).close()
    old = sqlite3.connect(path)
    old.execute("DROP INDEX order_views_waiting")  # as an earlier version left it
    old.close()
    db = Database(path)
    try:
        assert order.COOKED == "cooked"  # the index's and the query's spelling of it
        rows = [(f"ord_{i}", "cus_1", "sto_1", status, "paid", rider, 37.5 + i / 1000, 127.0,
                 "t", "t", 5, b"", "{}")
                for i, (status, rider) in enumerate([("cooked", None), ("cooked", "rid_1"),
                                                      ("cooking", None), ("cooked", None)])]
        with db.transaction() as conn:
            conn.executemany("INSERT INTO order_views VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        asked: list[str] = []
        db.conn.set_trace_callback(asked.append)
        listed = ReadModel(db).available_deliveries(Location(37.5, 127.0), 3.0)
        db.conn.set_trace_callback(None)
        assert [row[1] for row in listed] == ["ord_0", "ord_3"]
        plan = " ".join(str(r) for r in db.execute(f"EXPLAIN QUERY PLAN {asked[-1]}"))
        assert "order_views_waiting" in plan and "lat>" in plan, plan
    finally:
        db.close()
