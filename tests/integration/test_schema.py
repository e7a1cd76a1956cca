"""A data directory written by an earlier version opens with its data where the tables are now."""

import sqlite3

from delivery.persistence.db import Database, database_path
from delivery.persistence.outbox import WebhookOutbox


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
