"""Change marks: counters in a small file that every process of one SQLite file maps, so that a
process can tell at the cost of two memory reads that a row it remembers has not changed since.

What they are for: the front door remembers who holds a token (`Directory.holder_by_hash`)
instead of reading the holder's row on every request, and still sees a suspension, a revoked
token or a rider's new location at once, whichever process wrote it; it remembers an order's
view (`ReadModel.parties_and_view`) and the approved stores (`Directory.stores_in_box`) the same
way, and a command's reply is never followed by the view from before it. Rows are marked, not
tables: a key (a holder's id, an order's id, "stores" for the catalogue) falls in one of SLOTS
counters, and a write adds one to the counter of each key it changed.

The order that makes it exact:
- a writer marks its keys after its COMMIT returns, before it tells anyone of the change
  (`SqliteDatabase` does, for the rows its triggers reported: see directory.py);
- a reader takes the marks of a key (`stamp`) before it reads the row, and keeps the row with
  them; the row is still current while the marks are unchanged (`fresh`). A reader that took the
  marks before a writer's mark read either the old row, which the mark then makes stale, or the
  new one.
- Counter 0 is marked by every connection that opens the file: a writer killed between its
  COMMIT and its mark cannot leave a remembered row current past its restart.

A database that is not a file (":memory:") has its marks in this process only. PostgreSQL has
none: nodes on other hosts cannot map a file, so there every holder is read again.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import threading
import zlib
from collections.abc import Iterable

EARLIER_SLOTS = 4096
"""Counters 1..4096 are the slots of the first version with marks (up to 6904892, 2026-11-27),
still marked (not read): while an upgrade is under way a front door of that version may share
the file with an actor process of this one (restarted from the new code), and must see its
marks."""
SLOTS = 2**16
"""Counters a key can fall in (8 bytes each; 544 KiB in all with the earlier ones): two keys in
one counter only cost a needless read. Order views are marked too, thousands a second at the
dinner peak (300 orders a second, seven steps each): at 2,000 marks a second another key's mark
makes a remembered row stale about once in 33 seconds (with 4,096 counters, every two)."""
EVERYTHING = 0
_FIRST = 1 + EARLIER_SLOTS
_SIZE = 8 * (_FIRST + SLOTS)
_WRAP = 2**64


def _crc(key: str) -> int:
    return zlib.crc32(key.encode("utf-8", "surrogateescape"))


def slot(key: str) -> int:
    """The counter of `key` (after everything's and the earlier versions' slots)."""
    return _FIRST + _crc(key) % SLOTS


def earlier_slot(key: str) -> int:
    """The counter an earlier version reads for `key` (1..EARLIER_SLOTS)."""
    return 1 + _crc(key) % EARLIER_SLOTS


class ChangeMarks:
    """The counters of the file `path` (created beside the database), or of this process only."""

    def __init__(self, path: str | None) -> None:
        self._fd: int | None = None
        if path is None:
            self._map: mmap.mmap | bytearray = bytearray(_SIZE)
        else:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                # Blocks on disk, not a sparse file: a write to a mapped page the file system
                # cannot supply (a full disk) would kill the process with SIGBUS; this raises
                # OSError (ENOSPC) here instead. Zeros; a larger file is left as it is.
                os.posix_fallocate(self._fd, 0, _SIZE)
                self._map = mmap.mmap(self._fd, _SIZE)
            except BaseException:
                os.close(self._fd)
                raise
        self._lock = threading.Lock()
        self._view = memoryview(self._map)
        self.counters = self._view.cast("Q")

    def stamp(self, key: str) -> tuple[int, int, int]:
        """(counter of `key`, its marks, everything's marks): taken before the row is read."""
        at = slot(key)
        counters = self.counters
        return at, counters[at], counters[EVERYTHING]

    def fresh(self, stamp: tuple[int, int, int]) -> bool:
        """Whether nothing was marked in the stamp's counter, nor everything, since the stamp."""
        counters = self.counters
        return counters[stamp[0]] == stamp[1] and counters[EVERYTHING] == stamp[2]

    def mark(self, keys: Iterable[str]) -> None:
        """The rows of `keys` changed (call after their COMMIT)."""
        crcs = {_crc(key) for key in keys}
        self._add({_FIRST + crc % SLOTS for crc in crcs} | {1 + crc % EARLIER_SLOTS for crc in crcs})

    def mark_everything(self) -> None:
        self._add({EVERYTHING})

    def _add(self, slots: set[int]) -> None:
        # One writer at a time: the threads of this process (the lock), and other processes
        # (flock, which does not tell this process's threads apart). Readers take no lock.
        with self._lock:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                counters = self.counters
                for at in slots:
                    counters[at] = (counters[at] + 1) % _WRAP
            finally:
                if self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.counters.release()
        self._view.release()
        if self._fd is not None:
            self._map.close()
            os.close(self._fd)
            self._fd = None
