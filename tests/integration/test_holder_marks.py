"""On SQLite the front door remembers token holders by the change marks of their rows
(persistence/marks.py, directory.py `holder`): no read while nothing changed, and a change made
by any process that writes the file (the actor process moving a rider, the admin suspending,
a revocation) is seen at the next lookup. PostgreSQL reads the row every time."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from delivery.domain.geo import Location
from delivery.persistence.db import CHANGED, Database, database_path
from delivery.persistence.directory import Holder, hash_token

from .test_principals import HERE, T, _lookups, _register

ROOT = __file__.rsplit("/tests/", 1)[0]


class Writer:
    """Another process with a connection of its own to the database, kept open (an opening
    marks everything: a writer opened per change would hide a change it failed to mark). Each
    `run` executes Python with `d`, its Directory, and `db`, and returns once it is done."""

    SCRIPT = ("import sys\n"
              "from delivery.persistence.db import Database\n"
              "from delivery.persistence.directory import Directory\n"
              "from delivery.domain.geo import Location\n"
              "db = Database(sys.argv[1])\nd = Directory(db)\n"
              "print('ready', flush=True)\n"
              "for line in sys.stdin:\n"
              "    exec(line.replace('\\\\n', '\\n'))\n"
              "    print('done', flush=True)\n"
              "db.close()\n")

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", self.SCRIPT, url], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline() == "ready\n"

    def run(self, code: str) -> None:
        self.proc.stdin.write(textwrap.dedent(code).strip().replace("\n", "\\n") + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "done\n", "the writer failed (see its stderr)"

    def close(self) -> None:
        self.proc.stdin.close()  # its loop ends: it closes its database and exits
        try:
            assert self.proc.wait(60) == 0
        finally:
            self.proc.stdout.close()


def test_a_remembered_holder_is_read_again_only_after_its_row_changed(here, storage):
    _register(here)
    here.holder("tok-rider")  # found by its token
    before = _lookups(here)
    for _ in range(5):
        assert here.holder("tok-rider") == Holder("riders", "rid_1", "approved", HERE)
    reads = _lookups(here) - before
    if storage:  # PostgreSQL: nodes on other hosts, no marks; the row each time
        assert reads == 5
        return
    assert reads == 1  # SQLite: once by id, then from memory
    here.move_rider("rid_1", Location(37.6, 127.1), T)
    before = _lookups(here)
    assert here.holder("tok-rider").location == Location(37.6, 127.1)
    assert here.holder("tok-rider").location == Location(37.6, 127.1)
    assert _lookups(here) - before == 1
    here.holder("tok-customer")
    here.holder("tok-customer")
    here.set_status("riders", "rid_1", "suspended")  # another holder's change: not re-read
    before = _lookups(here)
    assert here.holder("tok-customer") == Holder("customers", "cus_1", None)
    assert _lookups(here) - before == 0


@pytest.mark.timeout(120)
def test_changes_written_by_another_process_are_seen_at_the_next_lookup(here, tmp_path,
                                                                       storage):
    url = storage or str(database_path(tmp_path / "data"))
    there = Writer(url)
    try:
        there.run("""
            d.add_customer("cus_1", "Kim", "010", Location(37.5, 127.0), "tok-customer", "t")
            d.add_rider("rid_1", "Lee", "010", Location(37.5, 127.0), "tok-rider", "t",
                        status="approved")
        """)
        for _ in range(3):  # warm: remembered
            assert here.holder("tok-rider") == Holder("riders", "rid_1", "approved", HERE)
            assert here.holder("tok-customer") == Holder("customers", "cus_1", None)
        everything = here.db.marks.counters[0] if here.db.marks else None
        there.run('d.move_rider("rid_1", Location(37.6, 127.1), "t")')
        assert here.holder("tok-rider").location == Location(37.6, 127.1)
        there.run('d.set_status("riders", "rid_1", "suspended")')
        assert here.holder("tok-rider").status == "suspended"
        there.run('assert d.revoke_token("customers", "cus_1")')
        assert here.holder("tok-customer") is None
        if not storage:  # SQLite's REPLACE: a delete (its trigger fires) and an insert
            there.run(f"""db.execute("INSERT OR REPLACE INTO riders (id, name, phone, token_hash,"
                " created_at, status) VALUES ('rid_1', 'Lee', '010', ?, 't', 'pending')",
                ({hash_token("tok-rider")!r},))""")
            assert here.holder("tok-rider") == Holder("riders", "rid_1", "pending", None)
        there.run('db.execute("DELETE FROM riders WHERE id = ?", ("rid_1",))')
        assert here.holder("tok-rider") is None  # a statement of its own (no transaction) marks
        if everything is not None:  # the row's own marks did it, not an opening
            assert here.db.marks.counters[0] == everything
    finally:
        there.close()


def test_a_holder_changed_in_a_group_commit_is_seen_once_the_group_is_flushed(here, storage,
                                                                            tmp_path):
    _register(here)
    there = Database(storage or database_path(tmp_path / "data"))
    try:
        for _ in range(3):
            assert here.holder("tok-store").status == "approved"
        with there.grouped() as conn:
            conn.execute("UPDATE stores SET status = 'suspended' WHERE id = 'sto_1'")
        with there.grouped() as conn:  # a savepoint undone: its row is marked all the same
            conn.execute("UPDATE riders SET status = 'suspended' WHERE id = 'rid_1'")
            with pytest.raises(RuntimeError), there.grouped():
                raise RuntimeError("undone")
        there.flush()
        assert here.holder("tok-store").status == "suspended"
        assert here.holder("tok-rider").status == "suspended"
    finally:
        there.close()


def test_a_change_in_a_transaction_that_fails_leaves_the_holder_as_it_was(here, storage):
    _register(here)
    for _ in range(3):
        assert here.holder("tok-store").status == "approved"
    with pytest.raises(RuntimeError), here.db.transaction() as conn:
        conn.execute("UPDATE stores SET status = 'suspended' WHERE id = 'sto_1'")
        raise RuntimeError("undone")
    assert here.holder("tok-store").status == "approved"
    assert here.db.changed_keys == set()


@pytest.mark.sqlite_only
def test_a_connection_that_would_not_mark_cannot_change_a_holder(here, tmp_path):
    """The sqlite3 shell, say: its change would stay unseen by the front door's memory, so
    the triggers refuse it instead."""
    _register(here)
    raw = sqlite3.connect(database_path(tmp_path / "data"), isolation_level=None)
    try:
        for sql in ("UPDATE riders SET status = 'suspended' WHERE id = 'rid_1'",
                    "UPDATE customers SET token_hash = 'x' WHERE id = 'cus_1'",
                    "DELETE FROM stores WHERE id = 'sto_1'",
                    "INSERT OR REPLACE INTO riders (id, name, phone, token_hash, created_at,"
                    " status) VALUES ('rid_1', 'Lee', '010', 'x', 't', 'suspended')",
                    "INSERT INTO customers VALUES ('cus_9', 'K', '0', 1, 1, 'y', 't')"):
            with pytest.raises(sqlite3.OperationalError, match=CHANGED):
                raw.execute(sql)
    finally:
        raw.close()
    assert here.holder("tok-rider").status == "approved"
    assert here.holder("tok-store") is not None


@pytest.mark.sqlite_only
def test_a_writer_killed_between_its_commit_and_its_mark_is_covered_when_the_file_opens_again(
        here, tmp_path):
    """The window marks leave: a commit whose writer dies before marking. The writer's restart
    opens the file again, and an opening marks everything."""
    _register(here)
    for _ in range(3):
        assert here.holder("tok-rider").status == "approved"
    raw = sqlite3.connect(database_path(tmp_path / "data"), isolation_level=None)
    raw.create_function(CHANGED, 1, lambda key: None)  # commits, then "dies" before marking
    raw.execute("UPDATE riders SET status = 'suspended' WHERE id = 'rid_1'")
    raw.close()
    assert here.holder("tok-rider").status == "approved"  # remembered: nobody marked
    Database(database_path(tmp_path / "data")).close()  # the writer, restarted
    assert here.holder("tok-rider").status == "suspended"


@pytest.mark.sqlite_only
def test_a_replace_that_takes_a_token_from_another_row_is_seen(here, tmp_path):
    """REPLACE deletes the row whose unique token hash it takes; that delete must mark the row
    it deleted (recursive_triggers), not only the row it inserts."""
    _register(here)
    there = Database(database_path(tmp_path / "data"))
    try:
        for _ in range(3):
            assert here.holder("tok-rider").id == "rid_1"
        there.execute("INSERT OR REPLACE INTO riders (id, name, phone, token_hash, created_at,"
                      " status) VALUES ('rid_2', 'Park', '010', ?, 't', 'suspended')",
                      (hash_token("tok-rider"),))
        assert here.holder("tok-rider") == Holder("riders", "rid_2", "suspended", None)
    finally:
        there.close()
