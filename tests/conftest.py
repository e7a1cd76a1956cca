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
    # The app tests run their actors in the test's process (they look inside them, and start
    # hundreds of apps); `serve`, which the tests of processes spawn, runs the default: the
    # actors in a process of their own (tests/e2e/test_actor_process.py tests both ways).
    return config.load(FAST, env={}, **{"server.data_dir": str(data_dir), "actors.base": base,
                                        "actors.admin_port": free_port(),
                                        "storage.url": pgtest.current(),
                                        "actors.own_process": False, **overrides})


def db_url(data_dir: Path) -> str:
    """Where the running test's service keeps its database: the PostgreSQL URL of the
    postgresql variant, else the SQLite file under the data directory."""
    return pgtest.current() or str(Path(data_dir) / "delivery.sqlite3")


# -- storage: every integration and end-to-end test runs on SQLite and on PostgreSQL -----------

STORAGE_DIRS = ("integration", "e2e")


def pytest_generate_tests(metafunc):
    """Parametrise the storage of the tests that touch it: both adapters, unless the test is
    marked sqlite_only (it tests something only a SQLite file has, e.g. a full disk)."""
    if "storage" not in metafunc.fixturenames:
        return
    in_scope = Path(metafunc.definition.fspath).parent.name in STORAGE_DIRS
    marked = {m.name for m in metafunc.definition.iter_markers()}
    if "postgres_only" in marked:
        kinds = ["postgresql"]
    elif in_scope and "sqlite_only" not in marked:
        kinds = ["sqlite", "postgresql"]
    else:
        return  # SQLite, the default, with the test's name unchanged
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
