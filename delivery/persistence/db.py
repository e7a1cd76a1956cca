"""The SQLite database file: connection settings, transactions and the group commit.

Each table belongs to one module of this package, which defines it and is the only one to write
it (`schema.py` lists them).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILE_NAME = "delivery.sqlite3"


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
        from .schema import create_tables  # the owner modules import this one

        create_tables(self.conn)
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
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # names, phones, addresses: ours alone
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
