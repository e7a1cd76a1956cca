"""The SQLite database file: connection settings, transactions and the group commit.

Each table belongs to one module of this package, which defines it and is the only one to write
it (`schema.py` lists them).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .faults import HEALTH, StorageFault, fault_from, is_storage_error

FILE_NAME = "delivery.sqlite3"

# What became of a group commit (Database.outcome).
OPEN, COMMITTED, FAILED, UNKNOWN = "open", "committed", "failed", "unknown"
MAX_FAILED_GROUPS = 100_000  # remembered so that a writer can learn its group failed


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
        self.group_gen = 0  # number of the open (or last) group
        self.failed_groups: set[int] = set()
        self.forgotten_before = 0  # failed groups before this one are no longer remembered

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
        A disk that will not take the write raises StorageFault, with nothing left open.
        """
        flush_all()
        self._begin()
        try:
            yield self.conn
        except BaseException as exc:
            self._rollback()
            if is_storage_error(exc):
                raise fault_from(exc, "write") from exc
            raise
        self._commit()

    @contextmanager
    def grouped(self) -> Iterator[sqlite3.Connection]:
        """Write as part of a group commit: the changes are durable only after `flush()`.

        A failure rolls back this part alone (a savepoint), not the rest of the group, unless
        the disk failed: then the whole group is lost (SQLite may have rolled it back already)
        and StorageFault is raised. The caller must not tell anyone of the changes before the
        flush (group commit); `outcome(group_gen)` says later whether they were saved.
        """
        if not self.group_open:
            self._begin()
            self.group_open, self.group_size = True, 0
            self.group_gen += 1
            self.group_thread = threading.get_ident()
        self.conn.execute("SAVEPOINT part")
        try:
            yield self.conn
        except BaseException as exc:
            if is_storage_error(exc):
                raise self._abort_group(exc) from exc
            self.conn.execute("ROLLBACK TO part")
            self.conn.execute("RELEASE part")
            if self.group_size == 0:
                # Nothing of this group was kept, so no Committed will come to flush it: end it
                # now, or it would hold SQLite's write lock until some later command.
                self._rollback()
                self.group_open = False
            raise
        self.conn.execute("RELEASE part")
        self.group_size += 1

    def flush(self) -> int:
        """Commit the open group, if any, with one fsync; returns how many writes it held.

        A failed COMMIT fails the whole group (StorageFault) and leaves no group open, so the
        next write starts a fresh one: the service recovers by itself once the disk does.
        """
        if not self.group_open:
            return 0
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise self._abort_group(exc) from exc
        HEALTH.ok()
        self.group_open = False
        self.groups += 1
        return self.group_size

    def outcome(self, gen: int) -> str:
        """What became of the group commit `gen`: OPEN, COMMITTED, FAILED or UNKNOWN (too old)."""
        if self.group_open and gen == self.group_gen:
            return OPEN
        if gen in self.failed_groups:
            return FAILED
        return COMMITTED if gen > self.forgotten_before else UNKNOWN

    def _abort_group(self, exc: BaseException) -> StorageFault:
        self._rollback()
        self.group_open = False
        self.failed_groups.add(self.group_gen)
        if len(self.failed_groups) > MAX_FAILED_GROUPS:
            self.forgotten_before = min(self.failed_groups)
            self.failed_groups.discard(self.forgotten_before)
        return fault_from(exc, "group commit")

    def _begin(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_storage_error(exc):
                raise fault_from(exc, "begin") from exc
            raise

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            if is_storage_error(exc):
                raise fault_from(exc, "commit") from exc
            raise
        HEALTH.ok()

    def _rollback(self) -> None:
        # After a disk fault SQLite may have rolled back on its own: then there is nothing to do.
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

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
