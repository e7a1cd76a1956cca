"""A data directory from before onboarding: its stores and riders become approved on upgrade."""

from __future__ import annotations

import sqlite3

import pytest

from delivery.domain.geo import Location
from delivery.domain.menu import MenuItem
from delivery.persistence.db import Database
from delivery.persistence.directory import Directory, Store

OLD_SCHEMA = """
CREATE TABLE stores (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_phone TEXT NOT NULL, lat REAL NOT NULL,
    lon REAL NOT NULL, token_hash TEXT NOT NULL UNIQUE, menu BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE riders (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, lat REAL, lon REAL,
    token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, located_at TEXT);
INSERT INTO stores VALUES ('sto_old', 'Old store', '010', 37.5, 127.0, 'h1', x'90', 't');
INSERT INTO riders VALUES ('rid_old', 'Old rider', '010', 37.5, 127.0, 'h2', 't', 't');
"""

pytestmark = pytest.mark.sqlite_only  # a SQLite file's own behaviour; PostgreSQL: test_postgres_storage.py


def test_stores_and_riders_of_an_earlier_data_directory_become_approved(tmp_path):
    path = tmp_path / "delivery.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    directory = Directory(Database(path))
    assert directory.status("stores", "sto_old") == "approved"
    assert directory.status("riders", "rid_old") == "approved"
    assert [s.id for s in directory.store_page("", 10)] == ["sto_old"]
    Database(path)  # opening it again (another connection, a restart) changes nothing
    store = Store("sto_new", "New", "010", Location(37.5, 127.0), (MenuItem("m1", "Rice", 1),))
    directory.add_store(store, "tok", "t2", status="pending")
    assert directory.status("stores", "sto_new") == "pending"
    assert [s.id for s in directory.store_page("", 10)] == ["sto_old"]
