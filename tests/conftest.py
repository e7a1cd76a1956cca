"""Shared fixtures: configuration on a temporary data directory, a free port, a running system."""

from __future__ import annotations

from pathlib import Path

import pytest

from delivery import config
from delivery.tools.localhost import free_port
from tests import pgtest

ROOT = Path(__file__).resolve().parent.parent
FAST = ROOT / "config" / "fast-tests.toml"


def make_settings(data_dir: Path, base: str = "simpleSystemBase", **overrides) -> dict:
    """Test configuration: the fast overlay, its own data directory and admin port, and the
    storage of the running test (its own PostgreSQL database in the postgresql variant)."""
    return config.load(FAST, env={}, **{"server.data_dir": str(data_dir), "actors.base": base,
                                        "actors.admin_port": free_port(),
                                        "storage.url": pgtest.current(), **overrides})


# -- storage: every integration and end-to-end test runs on SQLite and on PostgreSQL -----------

STORAGE_DIRS = ("integration", "e2e")


def pytest_generate_tests(metafunc):
    """Parametrise the storage of the tests that touch it: both adapters, unless the test is
    marked sqlite_only (it tests something only a SQLite file has, e.g. a full disk) or
    postgresql_only (it tests what only a shared database has: several nodes, leases)."""
    if "storage" not in metafunc.fixturenames:
        return
    in_scope = Path(metafunc.definition.fspath).parent.name in STORAGE_DIRS
    only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
    kinds = ["sqlite", "postgresql"] if in_scope and not only_sqlite else ["sqlite"]
    if in_scope and metafunc.definition.get_closest_marker("postgresql_only") is not None:
        kinds = ["postgresql"]
    metafunc.parametrize("storage", kinds, indirect=True, scope="function")


@pytest.fixture(autouse=True)
def storage(request, monkeypatch):
    """The test's storage: "" for SQLite in its data directory, else the URL of a PostgreSQL
    database made for this test alone and dropped after it (also when it fails). The URL is
    also in DELIVERY_STORAGE_URL, so `run.py` processes the test starts use it too."""
    if getattr(request, "param", "sqlite") == "sqlite":
        monkeypatch.delenv(pgtest.ENV, raising=False)
        yield ""
        return
    url = pgtest.create_database()
    monkeypatch.setenv(pgtest.ENV, url)
    try:
        yield url
    finally:
        pgtest.drop_database(url)


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path / "data")
