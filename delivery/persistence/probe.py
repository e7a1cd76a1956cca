"""The storage probe: one row rewritten to learn whether the disk takes writes again.

Only written while a storage fault is recorded (`faults.HEALTH`), at most once a second, so a
service that stopped taking writes notices by itself when space returns, even with no traffic.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

from .faults import HEALTH, is_storage_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS storage_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL,
                                          pad BLOB NOT NULL);
"""

MIN_INTERVAL_S = 1.0
PAD_BYTES = 4096  # a page of new data: a commit needs room for it in the WAL

_last = 0.0
_lock = threading.Lock()


def probe(db_path: str | Path) -> str | None:
    """Try one small durable write if a fault is recorded; returns the fault still in force.

    A busy database (another writer holds the lock) proves nothing either way: the fault stays.
    """
    global _last
    if HEALTH.fault is None:
        return None
    with _lock:
        if time.monotonic() - _last < MIN_INTERVAL_S:
            return HEALTH.fault
        _last = time.monotonic()
        _write(str(db_path))
    return HEALTH.fault


def _write(path: str) -> None:
    if path.startswith(("postgresql://", "postgres://")):
        _write_pg(path)
        return
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.5)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO storage_probe (id, at, pad) VALUES (1, ?, "
                     "randomblob(?))", (time.time(), PAD_BYTES))
        conn.execute("COMMIT")
        HEALTH.ok()
    except sqlite3.OperationalError as exc:
        if is_storage_error(exc):
            HEALTH.failed(f"storage probe failed: {exc}")
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
    finally:
        conn.close()


def _write_pg(url: str) -> None:
    """PostgreSQL: a durable write in a session of its own proves the server takes writes."""
    from .pg import connect

    try:
        with connect(url, synchronous_commit="on") as conn, conn.transaction():
            conn.execute("INSERT INTO storage_probe (id, at, pad) VALUES (1, %s, '')"
                         " ON CONFLICT (id) DO UPDATE SET at = excluded.at", (time.time(),))
        HEALTH.ok()
    except Exception as exc:  # noqa: BLE001 - any failure means the fault is still in force
        if is_storage_error(exc):
            HEALTH.failed(f"storage probe failed: {exc}")
