"""Consumer checkpoints: how far each journal consumer has durably got (table `checkpoints`).

A consumer saves its position in the same transaction as its output, so a crash makes it redo
work, never skip it.
"""

from __future__ import annotations

import sqlite3

from .db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""

PROJECTOR = "projector"
"""The read model's projector."""
NOTIFIER = "notifier"
"""The customer's and owner's notices."""
PAYMENTS = "provider_charges"
"""How far the provider's listing of charges has been reconciled with the orders (a position in
the provider's listing, not in the journal)."""
STORE_INBOX_PREFIX = "store:"
"""Prefix of each store inbox's checkpoint; the store id follows."""


def store_inbox(store_id: str) -> str:
    """The checkpoint name of one store's inbox."""
    return f"{STORE_INBOX_PREFIX}{store_id}"


def position(db: Database, name: str) -> int:
    """How far the consumer `name` has durably processed the journal (0: not started)."""
    row = db.execute("SELECT seq FROM checkpoints WHERE name = ?", (name,)).fetchone()
    return row[0] if row else 0


def save(conn: sqlite3.Connection, name: str, seq: int) -> None:
    """Record a consumer's position inside the caller's transaction."""
    conn.execute("INSERT INTO checkpoints (name, seq) VALUES (?, ?) ON CONFLICT (name)"
                 " DO UPDATE SET seq = excluded.seq", (name, seq))


def lag(db: Database, name: str) -> int:
    """Journal events the consumer `name` has not processed yet."""
    return db.execute("SELECT COUNT(*) FROM events WHERE seq > ?", (position(db, name),)).fetchone()[0]


def every(db: Database) -> dict[str, int]:
    """Every consumer's position by name."""
    return dict(db.execute("SELECT name, seq FROM checkpoints").fetchall())
