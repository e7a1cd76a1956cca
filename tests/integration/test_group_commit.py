"""The journal's group commit: writes of a group are durable and visible together at the flush,
and a failing part leaves the rest of the group alone."""

from __future__ import annotations

import sqlite3

import pytest

from delivery.persistence import db as dbmod
from delivery.persistence.db import Database

pytestmark = pytest.mark.sqlite_only  # a SQLite file's own behaviour; PostgreSQL: test_postgres_storage.py


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "delivery.sqlite3"
    yield p
    dbmod.close_shared()


def count(path) -> int:
    other = sqlite3.connect(path)
    try:
        return other.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
    finally:
        other.close()


def test_grouped_writes_appear_together_at_the_flush(path):
    db = Database.shared(path)
    for i in range(3):
        with db.grouped() as conn:
            conn.execute("INSERT INTO checkpoints VALUES (?, 0)", (f"c{i}",))
    assert count(path) == 0  # nobody outside sees an unflushed group
    assert db.flush() == 3 and db.groups == 1
    assert count(path) == 3
    assert db.flush() == 0


def test_a_failing_part_is_rolled_back_alone(path):
    db = Database.shared(path)
    with db.grouped() as conn:
        conn.execute("INSERT INTO checkpoints VALUES ('a', 0)")
    with pytest.raises(sqlite3.IntegrityError), db.grouped() as conn:
        conn.execute("INSERT INTO checkpoints VALUES ('b', 0)")
        conn.execute("INSERT INTO checkpoints VALUES ('a', 0)")  # duplicate: this part fails
    db.flush()
    other = sqlite3.connect(path)
    names = [r[0] for r in other.execute("SELECT name FROM checkpoints ORDER BY name")]
    other.close()
    assert names == ["a"]


def test_another_writer_of_the_same_thread_commits_the_group_first(path):
    journal_db, derived_db = Database.shared(path), Database.shared(path, durable=False)
    with journal_db.grouped() as conn:
        conn.execute("INSERT INTO checkpoints VALUES ('g', 1)")
    # without the flush this would wait for the group's write lock, held by this very thread
    with derived_db.transaction() as conn:
        conn.execute("INSERT INTO checkpoints VALUES ('d', 2)")
    assert not journal_db.group_open and count(path) == 2


def test_a_group_whose_only_part_failed_does_not_keep_the_write_lock(path):
    db = Database.shared(path)
    with pytest.raises(ValueError), db.grouped() as conn:
        conn.execute("INSERT INTO checkpoints VALUES ('refused', 1)")
        raise ValueError("refused by a rule checked inside the write (e.g. the unpaid cap)")
    assert not db.group_open
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer (the front door) is not locked out
        other.execute("INSERT INTO checkpoints VALUES ('front door', 1)")
        other.execute("COMMIT")
    finally:
        other.close()
    assert count(path) == 1
