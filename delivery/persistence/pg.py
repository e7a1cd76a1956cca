"""PostgreSQL specifics: the connection the owner modules write through, and the migrations.

The owner modules write their SQL once, with `?` parameters and `ON CONFLICT`, which both
databases read; `translate` turns the rest into PostgreSQL's spelling (`%s` parameters,
`lastval()`). Tables are created by the numbered files of `migrations/`, applied at start under
an advisory lock, so nodes starting together apply each file once.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import threading
import uuid
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x64656C6D  # advisory lock held while migrations are applied ("delm")
CONNECT_TIMEOUT_S = 5

_migrated: set[str] = set()
_migrated_lock = threading.Lock()


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """The PostgreSQL spelling of one statement written for both databases."""
    out = sql.replace("%", "%%").replace("?", "%s")
    return out.replace("last_insert_rowid()", "lastval()")


def connect(url: str, **settings: Any) -> psycopg.Connection:
    """An autocommit session (transactions are begun explicitly) with server settings."""
    options = " ".join(f"-c {k}={v}" for k, v in settings.items())
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                           options=options, application_name="delivery")


class PgConnection:
    """A psycopg session behind the small part of sqlite3's connection the owners use."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw, self.pid = raw, os.getpid()
        _open.add(self)

    @classmethod
    def open(cls, url: str, durable: bool, idle_in_transaction_ms: int) -> PgConnection:
        return cls(connect(url, synchronous_commit="on" if durable else "off",
                           idle_in_transaction_session_timeout=idle_in_transaction_ms))

    def execute(self, sql: str, params: Iterable[Any] = ()) -> psycopg.Cursor:
        params = tuple(params)
        if not params:
            return self.raw.execute(sql.replace("last_insert_rowid()", "lastval()"))
        return self.raw.execute(translate(sql), params)

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> psycopg.Cursor:
        cur = self.raw.cursor()
        cur.executemany(translate(sql), [tuple(r) for r in rows])
        return cur

    @property
    def in_transaction(self) -> bool:
        # A lost session (ended by the server, e.g. a paused node's open transaction after
        # idle_in_transaction_session_timeout) has no transaction: its status is UNKNOWN, and
        # taking that for "in a transaction" would skip the reconnect forever.
        return not self.closed and self.raw.info.transaction_status != TransactionStatus.IDLE

    @property
    def closed(self) -> bool:
        return self.raw.closed or self.raw.broken

    def close(self) -> None:
        # A forked actor process inherits its parent's sessions: closing one there would end
        # the parent's session on the server (libpq sends Terminate), so only the owner does.
        if os.getpid() == self.pid:
            self.raw.close()

    def __del__(self) -> None:
        # As with sqlite3: a connection dropped without close() is closed, not left to warn
        # (the simulated provider keeps one per thread of the offload pool, for instance).
        try:  # at interpreter exit even the modules may be gone: then there is nothing to do
            if os.getpid() == self.pid:
                self.raw.close()
            else:
                # Inherited by a forked actor process: not ours to end (psycopg's libpq wrapper
                # leaves the socket alone in a child); psycopg says nothing of a connection it
                # believes pooled, which is what this one is, to the parent.
                self.raw._pool = None
        except Exception:  # noqa: BLE001, S110 - a finaliser must not raise
            pass


_open: weakref.WeakSet[PgConnection] = weakref.WeakSet()


@atexit.register
def _close_open() -> None:
    """At exit, end this process's sessions cleanly (not left to the interpreter's teardown)."""
    for conn in list(_open):
        with contextlib.suppress(Exception):
            conn.close()


def migrations() -> list[tuple[int, str]]:
    """(number, SQL) of every migration file, in order."""
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        found.append((int(path.name.split("_", 1)[0]), path.read_text()))
    return found


def migrate(url: str) -> int:
    """Apply the migrations this database lacks (once per process and URL); returns how many."""
    with _migrated_lock:
        if url in _migrated:
            return 0
        applied = 0
        with connect(url) as conn:
            conn.execute(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                             " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL"
                             " DEFAULT now())")
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                for number, sql in migrations():
                    if number in done:
                        continue
                    with conn.transaction():
                        conn.execute(sql)
                        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)",
                                     (number,))
                    applied += 1
            finally:
                conn.execute(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
        _migrated.add(url)
        return applied


def create_database(server: str, prefix: str) -> str:
    """A new empty database `<prefix><random>` on the server of `server` (a URL of a database to
    connect to); returns its URL. psycopg.OperationalError when the server cannot be reached."""
    name = prefix + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def drop_database(server: str, url: str) -> None:
    """Drop the database `url` made by `create_database`, ending any session left on it."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
