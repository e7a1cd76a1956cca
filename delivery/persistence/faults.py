"""Storage faults: a write that could not reach the disk (full, I/O error, read-only).

SQLite rolls such a transaction back on its own, so nothing of it was saved; the caller must
tell whoever waits that the write failed, and try again later. `HEALTH` keeps the last fault of
this process until a write succeeds again, for `/ready`.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from pathlib import Path

# Primary result codes that mean "the disk would not take it" (the extended codes of I/O
# errors, SQLITE_IOERR_WRITE and others, share the low byte).
STORAGE_CODES = {sqlite3.SQLITE_FULL: "disk full", sqlite3.SQLITE_IOERR: "I/O error",
                 sqlite3.SQLITE_READONLY: "read-only", sqlite3.SQLITE_CANTOPEN: "cannot open"}

# Advised wait before the same command is sent again: freeing space is an operator's job, so
# a few seconds, not the sub-second retries of overload.
RETRY_AFTER_S = 5.0


class StorageFault(Exception):
    """A write was not saved because of the disk; the same write may succeed later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = RETRY_AFTER_S


# PostgreSQL's classes of SQLSTATE that mean the database, not the statement, failed: connection
# exceptions, insufficient resources (disk full), operator intervention (shutdown, a session
# ended by idle_in_transaction_session_timeout), system errors.
PG_STORAGE_CLASSES = ("08", "53", "57", "58", "25P03")


def is_storage_error(exc: BaseException) -> bool:
    """True for errors that mean the storage failed (disk, database server), not the statement."""
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in STORAGE_CODES
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return False
    if isinstance(exc, psycopg.InterfaceError) or exc.sqlstate is None:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return exc.sqlstate.startswith(PG_STORAGE_CLASSES)


def fault_from(exc: BaseException, what: str) -> StorageFault:
    """The StorageFault for a failed SQLite call (recorded in HEALTH)."""
    fault = StorageFault(f"{what} failed: {exc}")
    HEALTH.failed(fault.reason)
    return fault


class StorageHealth:
    """This process's view of the disk: the last write fault, until a write succeeds again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fault: str | None = None

    def failed(self, reason: str) -> None:
        with self._lock:
            self.fault = reason

    def ok(self) -> None:
        if self.fault is not None:  # the common case costs one attribute read
            with self._lock:
                self.fault = None


HEALTH = StorageHealth()


class DataDirUnwritable(RuntimeError):
    """The data directory cannot be created or written; the service cannot start on it."""


def check_writable(data_dir: str | Path) -> None:
    """Create the data directory if needed and prove a file can be written and removed in it.

    Raises DataDirUnwritable with one line naming the path. Permission bits alone would not
    tell (root ignores them); a real write does, for a read-only mount as well.
    """
    path = Path(data_dir)
    probe = path / f".write-test-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise DataDirUnwritable(f"data directory {path} is not writable: {reason}") from None


def disk_state(data_dir: str | Path) -> str | None:
    """Why the data directory's file system cannot take writes now (read-only, no space), or None."""
    try:
        st = os.statvfs(data_dir)
    except OSError as exc:
        return f"data directory {data_dir}: {os.strerror(exc.errno or 0).lower()}"
    if st.f_flag & os.ST_RDONLY:
        return f"data directory {data_dir} is on a read-only file system"
    if st.f_bavail == 0:
        return f"no space left on the file system of {data_dir}"
    return None
