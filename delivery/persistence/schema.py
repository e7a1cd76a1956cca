"""Every table of the database, each defined by the one module that writes it."""

from __future__ import annotations

import sqlite3

from . import (
    checkpoints,
    directory,
    idempotency,
    inboxes,
    journal,
    ledger,
    nodes,
    notices,
    outbox,
    probe,
    readmodel,
)

OWNERS = (journal, checkpoints, directory, readmodel, notices, outbox, inboxes, idempotency, ledger,
          probe, nodes)


def create_tables(conn: sqlite3.Connection) -> None:
    """Create what is missing; a data directory of an earlier version is brought up to date."""
    _rename(conn, "deliveries", "webhook_outbox", drop_index="deliveries_due")
    for owner in OWNERS:
        conn.executescript(owner.SCHEMA)
    directory.migrate(conn)
    outbox.migrate(conn)


def _rename(conn: sqlite3.Connection, old: str, new: str, drop_index: str) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if old in tables and new not in tables:
        conn.executescript(f"BEGIN IMMEDIATE; ALTER TABLE {old} RENAME TO {new};"
                           f" DROP INDEX IF EXISTS {drop_index}; COMMIT;")
