"""A disk that refuses a commit fails that group commit alone: nothing of it is saved, no group
stays open, and the next group commits as soon as there is room again (on a real full tmpfs)."""

from __future__ import annotations

import sqlite3

import pytest

from delivery.persistence import db as dbmod
from delivery.persistence.db import COMMITTED, FAILED, Database
from delivery.persistence.faults import HEALTH, StorageFault
from tests.disk import fill, free, small_disk

pytestmark = pytest.mark.sqlite_only  # a SQLite file's own behaviour; PostgreSQL: test_postgres_storage.py


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk", "2m") as path:
        yield path
        dbmod.close_shared()
        HEALTH.ok()


def names(path) -> list[str]:
    other = sqlite3.connect(path)
    try:
        return [r[0] for r in other.execute("SELECT name FROM checkpoints ORDER BY name")]
    finally:
        other.close()


def write_group(db: Database, *keys: str) -> int:
    for key in keys:
        with db.grouped() as conn:
            conn.execute("INSERT INTO checkpoints VALUES (?, 0)", (key,))
    return db.group_gen


def test_a_group_the_disk_refuses_is_lost_whole_and_the_next_group_commits_once_space_returns(disk):
    path = disk / "delivery.sqlite3"
    db = Database.shared(path)
    saved = write_group(db, "before")
    db.flush()
    fill(disk)
    lost = write_group(db, "lost-1", "lost-2")
    with pytest.raises(StorageFault, match="full"):
        db.flush()
    assert not db.group_open and not db.conn.in_transaction
    assert db.outcome(lost) == FAILED and db.outcome(saved) == COMMITTED
    assert HEALTH.fault is not None
    free(disk)
    later = write_group(db, "after")
    assert db.flush() == 1  # no "cannot commit - no transaction is active"
    assert db.outcome(later) == COMMITTED and HEALTH.fault is None
    assert names(path) == ["after", "before"]


def test_a_transaction_the_disk_refuses_leaves_no_transaction_open(disk):
    path = disk / "delivery.sqlite3"
    db = Database.shared(path, durable=False)
    fill(disk)
    with pytest.raises(StorageFault), db.transaction() as conn:
        conn.execute("INSERT INTO checkpoints VALUES ('lost', 0)")
    assert not db.conn.in_transaction
    free(disk)
    with db.transaction() as conn:
        conn.execute("INSERT INTO checkpoints VALUES ('saved', 0)")
    assert names(path) == ["saved"]
