"""On SQLite the front door remembers the order views it read by their change marks
(persistence/marks.py, readmodel.py `parties_and_view`): no read while the view is unchanged,
and a view written by any process (the projector in the actor process, a group commit, a
rebuild) is read again at the next lookup. PostgreSQL reads the view every time."""

from __future__ import annotations

import sqlite3

import pytest

from delivery.persistence import readmodel
from delivery.persistence.db import CHANGED, Database, database_path, statements_traced
from delivery.persistence.readmodel import ReadModel

from .test_holder_marks import Writer
from .test_principals import T

INSERT = ("INSERT INTO order_views (id, customer_id, store_id, status, payment_status, rider_id,"
          " lat, lon, created_at, updated_at, version, state, view)"
          " VALUES (?, 'cus_1', 'sto_1', ?, 'paid', NULL, 37.5, 127.0, ?, ?, 1, ?, ?)")


def _view(order_id: str, status: str) -> str:
    return f'{{"id": "{order_id}", "status": "{status}"}}'


def _insert(db, order_id: str, status: str = "paid") -> None:
    db.execute(INSERT, (order_id, status, T, T, b"state", _view(order_id, status)))


SET = "UPDATE order_views SET status = ?, rider_id = ?, view = ? WHERE id = ?"


def _set(order_id: str, status: str, rider: str | None = None) -> tuple:
    return (status, rider, _view(order_id, status), order_id)


@pytest.fixture
def views(tmp_path, storage):
    db = Database(storage or database_path(tmp_path / "data"))
    execute, db.lookups = db.execute, 0

    def counted(sql, params=()):
        db.lookups += 1
        return execute(sql, params)

    db.execute = counted
    try:
        yield ReadModel(db)
    finally:
        db.close()


def _reads(views: ReadModel, order_id: str, n: int = 1) -> tuple[object, int]:
    """What `n` lookups of the order answered (all the same) and the statements they took."""
    before = views.db.lookups
    answers = {views.parties_and_view(order_id) for _ in range(n)}
    assert len(answers) == 1
    return answers.pop(), views.db.lookups - before


def test_a_remembered_view_is_read_again_only_after_it_changed(views, storage):
    _insert(views.db, "ord_1")
    _insert(views.db, "ord_2")
    found, reads = _reads(views, "ord_1", 5)
    assert found == (("cus_1", "sto_1", None), _view("ord_1", "paid"))
    if storage:  # PostgreSQL: nodes on other hosts, no marks; the view each time
        assert reads == 5
        return
    assert reads == 1  # SQLite: once, then from memory
    views.db.execute(SET, _set("ord_1", "picked_up", "rid_1"))
    found, reads = _reads(views, "ord_1", 3)
    assert found == (("cus_1", "sto_1", "rid_1"), _view("ord_1", "picked_up"))
    assert reads == 1
    _reads(views, "ord_2")
    views.db.execute(SET, _set("ord_2", "accepted"))  # another order's change: not re-read
    assert _reads(views, "ord_1") == (found, 0)
    assert _reads(views, "ord_2")[0][1] == _view("ord_2", "accepted")


def test_an_order_not_found_is_looked_up_again_and_found_once_written(views):
    assert _reads(views, "ord_1", 2) == (None, 2)
    _insert(views.db, "ord_1")
    assert _reads(views, "ord_1")[0][1] == _view("ord_1", "paid")


@pytest.mark.timeout(120)
def test_views_written_by_another_process_are_seen_at_the_next_read(views, tmp_path, storage):
    """The projector writes views in the actor process: in a transaction of the journal's, in
    a group commit, as an upsert; a rebuild deletes them all."""
    there = Writer(storage or str(database_path(tmp_path / "data")))
    try:
        paid = _view("ord_1", "paid")
        there.run(f"db.execute({INSERT!r}, ('ord_1', 'paid', 't', 't', b's', {paid!r}))")
        for _ in range(3):  # warm: remembered
            assert views.parties_and_view("ord_1")[1] == _view("ord_1", "paid")
        everything = views.db.marks.counters[0] if views.db.marks else None
        there.run(f"""
            with db.transaction() as conn:
                conn.execute({SET!r}, {_set("ord_1", "accepted")!r})
        """)
        assert views.parties_and_view("ord_1")[1] == _view("ord_1", "accepted")
        there.run(f"""
            with db.grouped() as conn:
                conn.execute({SET!r}, {_set("ord_1", "cooking")!r})
            db.flush()
        """)
        assert views.parties_and_view("ord_1")[1] == _view("ord_1", "cooking")
        picked = _view("ord_1", "picked_up")
        there.run(f"""
            with db.transaction() as conn:
                conn.execute({INSERT!r} + " ON CONFLICT (id) DO UPDATE SET view = excluded.view,"
                             " rider_id = 'rid_1'", ('ord_1', 'x', 't', 't', b's', {picked!r}))
        """)
        assert views.parties_and_view("ord_1") == (("cus_1", "sto_1", "rid_1"),
                                                   _view("ord_1", "picked_up"))
        there.run('db.execute("DELETE FROM order_views")')  # a statement of its own (a rebuild)
        assert views.parties_and_view("ord_1") is None
        if everything is not None:  # the view's own marks did it, not an opening
            assert views.db.marks.counters[0] == everything
    finally:
        there.close()


def test_a_view_read_inside_a_transaction_that_is_rolled_back_is_not_answered_after_it(views):
    """A read on the writing connection sees its uncommitted change; the rollback marks what
    its triggers reported, so that view is not remembered past it."""
    _insert(views.db, "ord_1")
    with pytest.raises(RuntimeError), views.db.transaction() as conn:
        conn.execute(SET, _set("ord_1", "cancelled"))
        assert views.parties_and_view("ord_1")[1] == _view("ord_1", "cancelled")
        raise RuntimeError("undone")
    assert views.parties_and_view("ord_1")[1] == _view("ord_1", "paid")
    assert views.db.changed_keys == set()


def test_at_most_views_kept_are_remembered_the_oldest_dropped_first(views, monkeypatch):
    if not views.db.marks:
        pytest.skip("PostgreSQL remembers no views")
    monkeypatch.setattr(readmodel, "VIEWS_KEPT", 2)
    for oid in ("ord_1", "ord_2", "ord_3"):
        _insert(views.db, oid)
        _reads(views, oid)
    assert list(views._shown) == ["ord_2", "ord_3"]
    assert _reads(views, "ord_3")[1] == 0
    assert _reads(views, "ord_1")[1] == 1  # forgotten: read again (and ord_2 dropped for it)
    assert list(views._shown) == ["ord_3", "ord_1"]


@pytest.mark.sqlite_only
def test_a_connection_that_would_not_mark_cannot_change_a_view(views, tmp_path):
    """The sqlite3 shell, say: the front door would go on answering the view from before."""
    _insert(views.db, "ord_1")
    views.parties_and_view("ord_1")
    raw = sqlite3.connect(database_path(tmp_path / "data"), isolation_level=None)
    try:
        for sql in ("UPDATE order_views SET status = 'cancelled' WHERE id = 'ord_1'",
                    "DELETE FROM order_views WHERE id = 'ord_1'",
                    "INSERT INTO order_views SELECT 'ord_2', customer_id, store_id, status,"
                    " payment_status, rider_id, lat, lon, created_at, updated_at, version, state,"
                    " view FROM order_views"):
            with pytest.raises(sqlite3.OperationalError, match=CHANGED):
                raw.execute(sql)
    finally:
        raw.close()
    assert views.parties_and_view("ord_1")[1] == _view("ord_1", "paid")


@pytest.mark.sqlite_only
def test_a_statement_trace_counts_a_write_once_however_many_rows_its_triggers_mark(views):
    """CPython reports each trigger firing as its statement again; the statement counters
    (`run.py bench --statements`) count statements, not firings."""
    seen: list[str] = []
    views.db.conn.set_trace_callback(statements_traced(seen.append))
    try:
        for oid in ("ord_1", "ord_2", "ord_3"):
            _insert(views.db, oid)
        views.db.execute("UPDATE order_views SET status = 'accepted'")  # three rows, one statement
        views.db.execute("SELECT 1")
        views.db.execute("SELECT 1")  # a read run twice is two statements
        views.db.execute("DELETE FROM order_views")
    finally:
        views.db.conn.set_trace_callback(None)
    assert [sql.split()[0] for sql in seen] == ["INSERT"] * 3 + ["UPDATE", "SELECT", "SELECT",
                                                                  "DELETE"]
    raw: list[str] = []  # what the trace reports as it is
    views.db.conn.set_trace_callback(raw.append)
    try:
        _insert(views.db, "ord_1")
        _insert(views.db, "ord_2")
        views.db.execute("UPDATE order_views SET status = 'cooked'")
    finally:
        views.db.conn.set_trace_callback(None)
    kinds = [sql.split()[0] for sql in raw]  # each firing reported again, once or more
    assert kinds.count("INSERT") > 2 and kinds.count("UPDATE") > 1
    assert kinds == sorted(kinds)  # the firings right after their statement
