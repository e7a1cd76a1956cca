"""The data directory's lock: one live service per directory, so two never share a journal.

An OS lock (flock) rather than a pid file: the kernel drops it when the holder dies, even by
SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "service.lock"

# Locks this process holds. A forked child (a multiprocTCPBase actor or its daemonized admin)
# would share the lock, and keep it after our death; it closes its copies at once instead.
_HELD: set[DataDirLock] = set()


class DataDirInUse(RuntimeError):
    """Another live service holds the data directory."""


class DataDirLock:
    """An exclusive lock on DATA_DIR/service.lock, held from acquire() to release()."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        """Take the lock, or raise DataDirInUse at once (never waits)."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(f"data directory {self.data_dir} is in use by another running "
                               f"service (pid {holder})") from None
        # The pid is for the operator reading the refusal; the lock itself is the truth.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        _HELD.add(self)
        return self

    def release(self) -> None:
        """Let the directory go (closing the file drops the lock); idempotent."""
        _HELD.discard(self)
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _forget_in_child() -> None:
    # Only close: flock(LOCK_UN) here would unlock the parent's lock too.
    for lock in list(_HELD):
        fd, lock._fd = lock._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)
