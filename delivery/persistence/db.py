"""The database: SQLite (one node, the embedded default) or PostgreSQL (one or many nodes).

`Database(url)` opens the right one: a `postgresql://` URL opens PostgreSQL, anything else is the
path of a SQLite file. Both give the owner modules the same small interface (`execute`,
`transaction`, `grouped` + `flush`), so each table's SQL is written once, in the dialect both
speak (`?` parameters, `ON CONFLICT`); `PgConnection` rewrites the few spellings that differ.

Each table belongs to one module of this package, which defines it and is the only one to write
it (`schema.py` lists them).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .faults import HEALTH, StorageFault, fault_from, is_storage_error
from .marks import ChangeMarks

FILE_NAME = "delivery.sqlite3"

# What became of a group commit (Database.outcome).
OPEN, COMMITTED, FAILED, UNKNOWN = "open", "committed", "failed", "unknown"
MAX_FAILED_GROUPS = 100_000  # remembered so that a writer can learn its group failed

WRITE_LOCK = 0x64656C69  # PostgreSQL advisory lock: the cluster's one writer at a time ("deli")
IDLE_IN_TRANSACTION_MS = 5000  # a paused node's open transaction is ended after this

PROCESS_TAG = uuid.uuid4().hex[:16]
"""This node's process (its actor processes inherit it): its own wake-ups are not news to it."""

_SHARED: dict[tuple[int, str, bool], Database] = {}
CHANGED = "row_changed"
"""SQLite: the function a table's trigger calls with the key of a row it changed (marks.py)."""


def marking_triggers(table: str, key: str = "", name: str = "marked",
                     events: Sequence[str] = ("INSERT", "UPDATE", "DELETE")) -> str:
    """SQLite triggers that report each row of `table` written or deleted (its `id`, or the
    fixed `key` if given) to the writing connection's CHANGED function, which marks it once
    committed (marks.py). An event may name columns ("UPDATE OF a, b")."""
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_{event.split()[0].lower()}_{name} AFTER {event}"
        f" ON {table} BEGIN SELECT {CHANGED}("
        f"{repr(key) if key else ('NEW' if event == 'INSERT' else 'OLD') + '.id'}); END;\n"
        for event in events)
_OPENING = threading.Lock()


def is_postgres(url: str) -> bool:
    """Whether `url` names a PostgreSQL database rather than a SQLite file."""
    return url.startswith(("postgresql://", "postgres://"))


class Database:
    """One connection to the service's database, with transactions and the group commit.

    A durable connection's commit is on disk before the caller is told, so an acknowledged
    order survives a power cut, not just a process crash. Writers of derived data (read model,
    notices, store inbox, each with its journal checkpoint in the same transaction) are not
    durable: a power cut may undo their last commits, which are then done again from the journal.

    Writes are serialised: SQLite has one writer; on PostgreSQL every write transaction takes one
    advisory lock first, so the journal's sequence numbers become visible in commit order (a
    consumer reading "after seq N" never skips an event committed late) and the checks made
    inside an append see what every node has committed.
    """

    dialect = "?"
    integrity_errors: tuple[type[BaseException], ...] = ()

    def __new__(cls, url: str | Path, durable: bool = True) -> Database:
        if cls is Database:
            cls = PostgresDatabase if is_postgres(str(url)) else SqliteDatabase
        return super().__new__(cls)

    def __init__(self, url: str | Path, durable: bool = True) -> None:
        self.path, self.durable = str(url), durable
        self.group_open = False
        self.group_size = self.groups = 0
        self.group_records: list[Any] = []  # journal records of the open group
        self.part_open = False  # PostgreSQL: the last part's savepoint is not released yet
        self.notified_group = 0  # PostgreSQL: the group whose transaction sends NOTIFY already
        self.committed_records: list[Any] = []  # saved by group commits, for the projector
        # What in-process writers hand whoever ends the turn with a flush (the order actors'
        # Committed for the projector): kept whatever the group's outcome, so it is settled.
        self.waiting: list[Any] = []
        self.group_thread: int | None = None
        self.group_gen = 0  # number of the open (or last) group
        self.failed_groups: set[int] = set()
        self.forgotten_before = 0  # failed groups before this one are no longer remembered
        # SQLite: the change marks of the file (marks.py), and the keys this connection's
        # triggers reported changed in the open transaction, marked once it ends.
        self.marks: ChangeMarks | None = None
        self.changed_keys: set[str] = set()
        self._connect()

    @classmethod
    def shared(cls, url: str | Path, durable: bool = True) -> Database:
        """This process's connection to `url` (actor processes each open their own)."""
        key = (os.getpid(), str(url), durable)
        if key not in _SHARED:
            _SHARED[key] = Database(url, durable)
        return _SHARED[key]

    # -- what each adapter provides ----------------------------------------------------------
    def _connect(self) -> None:
        raise NotImplementedError

    @property
    def in_transaction(self) -> bool:
        raise NotImplementedError

    def _begin(self, then: str = "") -> None:
        raise NotImplementedError

    def execute(self, sql: str, params: tuple = ()) -> Any:
        """Run one statement outside (or inside the open) transaction; returns the cursor."""
        raise NotImplementedError

    def close(self) -> None:
        key = (os.getpid(), self.path, self.durable)
        if _SHARED.get(key) is self:  # another connection to the same URL leaves the shared one
            del _SHARED[key]
        with contextlib.suppress(Exception):
            self.conn.close()
        if self.marks is not None:
            self.marks.close()
            self.marks = None

    # -- transactions ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """BEGIN … COMMIT, rolled back on any exception.

        An open group commit of this thread holds the write lock, so it is committed first,
        whichever connection holds it (on simpleSystemBase all actors share one thread).
        A disk (or database) that will not take the write raises StorageFault, with nothing left
        open.
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
    def grouped(self, atomic: bool = False, counted: bool = True) -> Iterator[Any]:
        """Write as part of a group commit: the changes are durable only after `flush()`.

        A failure rolls back this part alone (a savepoint), not the rest of the group, unless
        the storage failed: then the whole group is lost and StorageFault is raised. The caller
        must not tell anyone of the changes before the flush (group commit); `outcome(group_gen)`
        says later whether they were saved.

        atomic: the part writes with one statement at most, so on SQLite, where a failed
        statement undoes itself and leaves the transaction open, it needs no savepoint (two
        statements fewer per command). PostgreSQL aborts the whole transaction on any failed
        statement, so there the savepoint stays.

        counted: the part is a write of its own, counted in `group_size` (the console's
        commits/group); the projector's views of the group's records are not.
        """
        savepoint = not (atomic and self.dialect == "sqlite")
        # PostgreSQL: a round trip costs more than a statement, so the savepoint goes with the
        # group's BEGIN, or with the release of the last part's (left open until then, or until
        # the COMMIT releases it). SQLite runs one statement a call: released at once there.
        merge = self.dialect == "postgresql"
        if not self.group_open:
            self._begin("SAVEPOINT part" if savepoint and merge else "")
            self.group_open, self.group_size = True, 0
            self.group_records = []
            self.group_gen += 1
            self.group_thread = threading.get_ident()
            self.part_open = savepoint and merge
        elif savepoint and merge:
            try:
                self.conn.execute("RELEASE part; SAVEPOINT part" if self.part_open
                                  else "SAVEPOINT part")
                self.part_open = True
            except BaseException as exc:
                if is_storage_error(exc):
                    raise self._abort_group(exc) from exc
                raise
        if savepoint and not merge:
            try:
                self.conn.execute("SAVEPOINT part")
            except BaseException as exc:
                if is_storage_error(exc):
                    raise self._abort_group(exc) from exc
                raise
        try:
            yield self.conn
        except BaseException as exc:
            if is_storage_error(exc):
                raise self._abort_group(exc) from exc
            if savepoint:
                try:
                    self.conn.execute("ROLLBACK TO part")
                    self.conn.execute("RELEASE part")
                    self.part_open = False
                except BaseException as inner:
                    if is_storage_error(inner):
                        raise self._abort_group(inner) from exc
                    raise
            if self.group_size == 0:
                # Nothing of this group was kept, so no Committed will come to flush it: end it
                # now, or it would hold the write lock until some later command.
                self._rollback()
                self.group_open = False
            raise
        if savepoint and not merge:
            self.conn.execute("RELEASE part")
        if counted:
            self.group_size += 1

    def flush(self) -> int:
        """Commit the open group, if any, with one fsync; returns how many writes it held.

        A failed COMMIT fails the whole group (StorageFault) and leaves no group open, so the
        next write starts a fresh one: the service recovers by itself once the storage does.
        """
        if not self.group_open:
            return 0
        try:
            self.conn.execute("COMMIT")
        except BaseException as exc:
            fault = self._abort_group(exc)
            if is_storage_error(exc):
                raise fault from exc
            raise
        HEALTH.ok()
        self.group_open = False
        self.groups += 1
        if len(self.committed_records) < MAX_COMMITTED_RECORDS:
            self.committed_records.extend(self.group_records)
        else:  # nobody takes them (the projector runs on another node): it reads the journal
            self.committed_records = []
        self.group_records = []
        if self.changed_keys:  # committed and recorded so: the writer is told only after this
            self._mark_changed()
        return self.group_size

    def take_committed(self) -> list[Any]:
        """The journal records that group commits saved since the last call, in order (the
        projector takes them instead of reading them back; see `Journal.append_records`)."""
        taken, self.committed_records = self.committed_records, []
        return taken

    def outcome(self, gen: int) -> str:
        """What became of the group commit `gen`: OPEN, COMMITTED, FAILED or UNKNOWN (too old)."""
        if self.group_open and gen == self.group_gen:
            return OPEN
        if gen in self.failed_groups:
            return FAILED
        return COMMITTED if gen > self.forgotten_before else UNKNOWN

    def _abort_group(self, exc: BaseException) -> StorageFault:
        self._rollback()  # marks what its writes reported (harmless: nothing changed)
        self.group_open = False
        self.group_records = []  # they do not exist
        self.failed_groups.add(self.group_gen)
        if len(self.failed_groups) > MAX_FAILED_GROUPS:
            self.forgotten_before = min(self.failed_groups)
            self.failed_groups.discard(self.forgotten_before)
        return fault_from(exc, "group commit")

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            if is_storage_error(exc):
                raise fault_from(exc, "commit") from exc
            raise
        HEALTH.ok()
        if self.changed_keys:
            self._mark_changed()

    def _rollback(self) -> None:
        # After a storage fault the transaction may be gone already: then there is nothing to do.
        with contextlib.suppress(Exception):
            if self.in_transaction:
                self.conn.execute("ROLLBACK")
        if self.changed_keys:  # a read on this connection may have seen the undone change
            self._mark_changed()

    def _mark_changed(self) -> None:
        """Mark the keys the ended transaction's triggers reported (after its COMMIT: marks.py).
        The keys are forgotten only once marked: if marking fails they are marked at the end of
        the next transaction, not lost (a retried write that changes nothing reports none)."""
        keys = tuple(self.changed_keys)
        if self.marks is not None:
            self.marks.mark(keys)
        # the same set (the connection's function adds to it): emptied, never replaced
        self.changed_keys.difference_update(keys)


class SqliteDatabase(Database):
    """The service's SQLite file in WAL mode (synchronous=FULL when durable, else NORMAL)."""

    dialect = "sqlite"
    integrity_errors = (sqlite3.IntegrityError,)

    def _connect(self) -> None:
        # One opening at a time in this process: threads opening a new file together (the
        # simulated provider's do) would race to switch it to WAL and to upgrade its schema.
        with _OPENING:
            self.conn = sqlite3.connect(self.path, isolation_level=None,
                                        check_same_thread=False, timeout=30.0)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
            self.conn.execute("PRAGMA foreign_keys=ON")
            # A REPLACE deletes the row it replaces: with this, that fires the DELETE triggers.
            self.conn.execute("PRAGMA recursive_triggers=ON")
            # The tables' triggers report the keys of changed rows through this function; a
            # connection without it (the sqlite3 shell) cannot change such a row: it would
            # leave the front door's remembered holders stale (marks.py).
            self.conn.create_function(CHANGED, 1, self.changed_keys.add, deterministic=False)
            from .schema import create_tables  # the owner modules import this one

            create_tables(self.conn)
            self.marks = ChangeMarks(None if self.path in ("", ":memory:")
                                     else f"{self.path}-marks")
            self.marks.mark_everything()  # a writer killed before its marks did not leave any

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def _begin(self, then: str = "") -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            if then:
                self.conn.execute(then)
        except sqlite3.OperationalError as exc:
            if is_storage_error(exc):
                raise fault_from(exc, "begin") from exc
            raise

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        cursor = self.conn.execute(sql, params)
        if self.changed_keys and not self.conn.in_transaction:  # a statement of its own
            self._mark_changed()
        return cursor


class PostgresDatabase(Database):
    """A PostgreSQL database shared by every node (psycopg 3, one session per connection).

    Durable connections commit with synchronous_commit=on (the WAL is flushed before COMMIT
    returns); derived data commits with it off. A session left idle inside a transaction (a
    paused node) is ended by the server after IDLE_IN_TRANSACTION_MS, releasing the write lock;
    what it had not committed was never acknowledged. A lost connection is opened again on the
    next use; the statement that met it fails as a StorageFault.
    """

    dialect = "postgresql"

    def __init__(self, url: str | Path, durable: bool = True) -> None:
        import psycopg

        self.integrity_errors = (psycopg.errors.IntegrityError,)
        super().__init__(url, durable)

    def _connect(self) -> None:
        from .pg import PgConnection, migrate

        migrate(self.path)
        self.conn = PgConnection.open(self.path, durable=self.durable,
                                      idle_in_transaction_ms=IDLE_IN_TRANSACTION_MS)

    def _live(self) -> None:
        if self.conn.closed:
            if self.group_open:  # the group died with its session
                self._abort_group(ConnectionError("connection lost"))
            self._connect()

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def _begin(self, then: str = "") -> None:
        try:
            self._live()
            # One round trip for all (a statement string without parameters may hold several).
            self.conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
                              + (f"; {then}" if then else ""))
        except BaseException as exc:
            self._rollback()
            if is_storage_error(exc):
                raise fault_from(exc, "begin") from exc
            raise

    def execute(self, sql: str, params: tuple = ()) -> Any:
        if not self.in_transaction:
            try:
                self._live()
            except BaseException as exc:
                if is_storage_error(exc):
                    raise fault_from(exc, "connect") from exc
                raise
        return self.conn.execute(sql, params)


MAX_COMMITTED_RECORDS = 10_000
"""Records of saved groups kept for the projector to take; beyond, they are dropped (and read
from the journal instead)."""

ROWS_PER_STATEMENT = 200
"""Rows of one multi-row INSERT (well within both databases' limits on bound parameters)."""


def insert_rows(conn: Any, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """`head VALUES (…), (…) tail`: many rows in one statement, not one statement a row.

    Both databases take a multi-row VALUES; each statement succeeds or fails whole. `rows` must
    not name a key twice when `tail` updates on conflict (PostgreSQL refuses that).
    """
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[start:start + ROWS_PER_STATEMENT]
        mark = "(" + ", ".join("?" * len(part[0])) + ")"
        conn.execute(f"{head} VALUES {', '.join([mark] * len(part))} {tail}",
                     [value for row in part for value in row])


def statements_traced(note: Callable[[str], None]) -> Callable[[str], None]:
    """A trace callback for a SQLite connection (`conn.set_trace_callback`) that passes `note`
    each statement the connection runs, once.

    CPython's sqlite3 reports every firing of a trigger as the statement that fired it, again
    (it expands the statement rather than passing SQLite's `-- TRIGGER` text), so the marking
    triggers (a row of customers, stores, riders or order_views written: one firing a row) would
    read as statements of their own. A write reported again straight after itself is such a
    firing (the same write twice in a row, same values and all, is not one the service makes; a
    change that made it do so would go uncounted here)."""
    last = ""

    def traced(sql: str) -> None:
        nonlocal last
        if sql == last and sql.lstrip()[:7].upper() in _WRITES:
            return
        last = sql
        note(sql)
    return traced


_WRITES = ("INSERT ", "UPDATE ", "DELETE ", "REPLACE")


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


def groups_started() -> int:
    """How many group commits this thread has started, so far (a caller that saw the same
    number before knows no group was started since)."""
    pid, thread = os.getpid(), threading.get_ident()
    return sum(db.group_gen for key, db in list(_SHARED.items())
               if key[0] == pid and db.group_thread == thread)


def close_shared() -> None:
    """Close this process's shared connections (at actor-system shutdown)."""
    for key, db in list(_SHARED.items()):
        if key[0] == os.getpid():
            db.close()

