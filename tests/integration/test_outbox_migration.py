"""Connections opening one new database file at once (the simulated provider's threads do) all
get its schema: adding the outbox's delivery columns never races into "duplicate column"."""

from __future__ import annotations

import threading

import pytest

from delivery.persistence.db import Database

pytestmark = pytest.mark.sqlite_only  # a SQLite file's own schema upgrade


def test_threads_opening_a_fresh_file_together_all_succeed(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    start, errors, opened = threading.Barrier(8), [], []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(Database(path, durable=False))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
    for _ in range(20):  # the race needs a few tries to show
        path.unlink(missing_ok=True)
        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for db in opened:
            db.close()
        opened.clear()
        start.reset()
    assert errors == []
