"""Change marks (persistence/marks.py): counters a process reads to know that a row it
remembers has not changed since; every mapping of one file sees every other's marks."""

from __future__ import annotations

import errno
import threading
import zlib

import pytest

from delivery.persistence.marks import EARLIER_SLOTS, SLOTS, ChangeMarks, earlier_slot, slot
from tests.disk import fill, free, small_disk

SIZE = 8 * (1 + EARLIER_SLOTS + SLOTS)  # everything's counter, an earlier version's, this one's


@pytest.fixture
def two(tmp_path):
    """Two mappings of one marks file, as two processes have."""
    a, b = ChangeMarks(str(tmp_path / "x-marks")), ChangeMarks(str(tmp_path / "x-marks"))
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_a_mark_made_through_one_mapping_makes_the_other_s_stamp_stale(two):
    a, b = two
    stamp = b.stamp("rid_1")
    assert b.fresh(stamp)
    a.mark(["rid_1"])
    assert not b.fresh(stamp)
    assert b.fresh(b.stamp("rid_1"))


def test_a_mark_of_another_key_leaves_a_stamp_fresh_unless_it_shares_its_counter(two):
    a, b = two
    stamp = b.stamp("rid_1")
    other = next(f"rid_{i}" for i in range(2, 10_000) if slot(f"rid_{i}") != slot("rid_1"))
    a.mark([other])
    assert b.fresh(stamp)
    twin = next(f"rid_{i}" for i in range(2, 10_000_000) if slot(f"rid_{i}") == slot("rid_1"))
    a.mark([twin])  # a needless read again, never a stale one
    assert not b.fresh(stamp)


def test_marking_everything_makes_every_stamp_stale(two):
    a, b = two
    stamps = [b.stamp(f"cus_{i}") for i in range(50)]
    a.mark_everything()
    assert not any(b.fresh(s) for s in stamps)


def test_slots_stay_within_the_file_and_spare_the_counter_of_everything():
    slots = {slot(f"sto_{i}") for i in range(20_000)}
    assert min(slots) > EARLIER_SLOTS and max(slots) <= EARLIER_SLOTS + SLOTS
    assert len(slots) > 16_000  # spread, not piled into a few counters (~17,000 expected)
    assert EARLIER_SLOTS < slot("\udcff") <= EARLIER_SLOTS + SLOTS  # a lone surrogate is a key too


def test_a_counter_wraps_around_instead_of_overflowing(tmp_path):
    m = ChangeMarks(str(tmp_path / "w-marks"))
    try:
        at = slot("rid_1")
        m.counters[at] = 2**64 - 1
        stamp = m.stamp("rid_1")
        m.mark(["rid_1"])
        assert m.counters[at] == 0 and not m.fresh(stamp)
    finally:
        m.close()


def test_a_marks_file_is_made_to_size_and_never_shrunk(tmp_path):
    path = tmp_path / "y-marks"
    path.write_bytes(b"\x00" * (SIZE + 100))  # larger (a later version's): kept
    m = ChangeMarks(str(path))
    m.close()
    assert path.stat().st_size == SIZE + 100
    path.unlink()
    m = ChangeMarks(str(path))
    m.close()
    assert path.stat().st_size == SIZE
    assert path.stat().st_mode & 0o077 == 0


def test_marks_of_a_database_in_memory_are_this_process_s_own():
    m = ChangeMarks(None)
    stamp = m.stamp("cus_1")
    m.mark(["cus_1"])
    assert not m.fresh(stamp)
    assert m.fresh(m.stamp("cus_1"))
    m.close()


def test_threads_marking_through_one_mapping_lose_no_mark(two):
    """flock tells processes apart, not the threads of one: a lost increment could bring a
    counter back to a value a reader stamped."""
    a, _ = two
    at = slot("rid_1")

    def marking() -> None:
        for _ in range(2000):
            a.mark(["rid_1"])

    threads = [threading.Thread(target=marking) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a.counters[at] == 8000


def test_on_a_full_disk_a_new_marks_file_is_refused_with_enospc_not_a_crash(tmp_path):
    """A sparse file's first write to a page the disk cannot supply is SIGBUS; the file's blocks
    are taken when it is made, so a full disk is an OSError there, never a dead process."""
    with small_disk(tmp_path / "disk", "1m") as disk:
        made = ChangeMarks(str(disk / "kept-marks"))  # made while there was room: keeps working
        fill(disk)
        with pytest.raises(OSError) as refused:
            ChangeMarks(str(disk / "new-marks"))
        assert refused.value.errno == errno.ENOSPC
        stamp = made.stamp("cus_1")
        made.mark(["cus_1"])
        assert not made.fresh(stamp)
        made.close()
        free(disk)


def test_a_front_door_of_the_earlier_version_sharing_the_file_sees_this_version_s_marks(tmp_path):
    """During an upgrade the actor process may be restarted from the new code while the front
    door still runs the old one: it reads counters 1..4096 by crc32 % 4096, and must see marks."""
    path = tmp_path / "upgraded-marks"
    path.write_bytes(b"\x00" * 8 * (1 + EARLIER_SLOTS))  # the earlier version's file
    m = ChangeMarks(str(path))
    try:
        assert path.stat().st_size == SIZE  # grown in place, the earlier counters where they were
        at = earlier_slot("rid_1")
        assert at == 1 + zlib.crc32(b"rid_1") % 4096
        before = m.counters[at]
        m.mark(["rid_1"])
        assert m.counters[at] == before + 1
        assert not any(m.counters[earlier_slot(k)] for k in ("cus_1", "sto_9") if
                       earlier_slot(k) != at)  # only the key's own
    finally:
        m.close()
