"""The SQLite database file: connection settings, schema and transactions."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILE_NAME = "delivery.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL, version INTEGER NOT NULL,
    customer_id TEXT NOT NULL, store_id TEXT NOT NULL,
    kind TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE, at TEXT NOT NULL, body BLOB NOT NULL,
    UNIQUE (order_id, version));
CREATE INDEX IF NOT EXISTS events_by_store ON events (store_id, seq);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, lat REAL NOT NULL,
    lon REAL NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stores (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_phone TEXT NOT NULL, lat REAL NOT NULL,
    lon REAL NOT NULL, token_hash TEXT NOT NULL UNIQUE, menu BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS riders (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, lat REAL, lon REAL,
    token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, located_at TEXT);
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS order_views (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, store_id TEXT NOT NULL, status TEXT NOT NULL,
    payment_status TEXT NOT NULL, rider_id TEXT, lat REAL NOT NULL, lon REAL NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, version INTEGER NOT NULL,
    state BLOB NOT NULL, view TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS order_views_by_customer ON order_views (customer_id, created_at);
CREATE INDEX IF NOT EXISTS order_views_by_store ON order_views (store_id, status, created_at);
CREATE INDEX IF NOT EXISTS order_views_by_status ON order_views (status, payment_status);
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    recipient_kind TEXT NOT NULL, recipient_id TEXT NOT NULL, order_id TEXT NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL, channel TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS notifications_by_recipient
    ON notifications (recipient_kind, recipient_id, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    notice_id TEXT NOT NULL, channel TEXT NOT NULL, payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, delivered_at TEXT,
    last_error TEXT, PRIMARY KEY (notice_id, channel));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (delivered_at, next_at);
CREATE TABLE IF NOT EXISTS store_inbox (
    store_id TEXT NOT NULL, order_id TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL,
    received_at TEXT NOT NULL, PRIMARY KEY (store_id, order_id, kind));
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, body_hash TEXT NOT NULL, status INTEGER NOT NULL,
    response TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (scope, key));
CREATE TABLE IF NOT EXISTS provider_ledger (
    order_id TEXT NOT NULL, kind TEXT NOT NULL, reference TEXT NOT NULL, amount INTEGER NOT NULL,
    at TEXT NOT NULL, PRIMARY KEY (order_id, kind));
"""

_SHARED: dict[tuple[int, str, bool], Database] = {}


class Database:
    """One connection to the service's SQLite file in WAL mode.

    A durable connection commits with synchronous=FULL: the commit is on disk before the caller
    is told, so an acknowledged order survives a power cut, not just a process crash. Writers of
    derived data (read model, notices, store inbox, each with its journal checkpoint in the same
    transaction) use synchronous=NORMAL: a power cut may undo their last commits, which are then
    done again from the journal, and the next durable commit flushes them anyway.
    """

    def __init__(self, path: str | Path, durable: bool = True) -> None:
        self.path, self.durable = str(path), durable
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                    timeout=30.0)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)
        self.group_open = False
        self.group_size = self.groups = 0
        self.group_thread: int | None = None

    @classmethod
    def shared(cls, path: str | Path, durable: bool = True) -> Database:
        """This process's connection to `path` (actor processes each open their own)."""
        key = (os.getpid(), str(path), durable)
        if key not in _SHARED:
            _SHARED[key] = cls(path, durable)
        return _SHARED[key]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception.

        An open group commit of this process holds SQLite's write lock, so it is committed
        first, whichever connection holds it (on simpleSystemBase all actors share one thread).
        """
        flush_all()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def grouped(self) -> Iterator[sqlite3.Connection]:
        """Write as part of a group commit: the changes are durable only after `flush()`.

        A failure rolls back this part alone (a savepoint), not the rest of the group. The
        caller must not tell anyone of the changes before the flush (group commit).
        """
        if not self.group_open:
            self.conn.execute("BEGIN IMMEDIATE")
            self.group_open, self.group_size = True, 0
            self.group_thread = threading.get_ident()
        self.conn.execute("SAVEPOINT part")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK TO part")
            self.conn.execute("RELEASE part")
            raise
        self.conn.execute("RELEASE part")
        self.group_size += 1

    def flush(self) -> int:
        """Commit the open group, if any, with one fsync; returns how many writes it held."""
        if not self.group_open:
            return 0
        self.conn.execute("COMMIT")
        self.group_open = False
        self.groups += 1
        return self.group_size

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        _SHARED.pop((os.getpid(), self.path, self.durable), None)
        self.conn.close()


def database_path(data_dir: str | Path) -> Path:
    """The database file under a data directory, creating the directory."""
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path / FILE_NAME


def flush_all() -> None:
    """Commit the open group commits that this thread started (other threads' are theirs)."""
    pid, thread = os.getpid(), threading.get_ident()
    for key, db in list(_SHARED.items()):
        if key[0] == pid and db.group_open and db.group_thread == thread:
            db.flush()


def close_shared() -> None:
    """Close this process's shared connections (at actor-system shutdown)."""
    for key, db in list(_SHARED.items()):
        if key[0] == os.getpid():
            db.close()
