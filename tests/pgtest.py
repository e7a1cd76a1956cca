"""A PostgreSQL database of its own for one test: created, used, dropped.

The server is the machine's (127.0.0.1:5432, trust auth) unless DELIVERY_TEST_PG names another
(a URL of a database to connect to for CREATE/DROP DATABASE). In CI (CI=true) a server that
cannot be reached fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os

import pytest

from delivery.persistence import pg

ADMIN_URL = os.environ.get("DELIVERY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = "delivery_test_"

ENV = "DELIVERY_STORAGE_URL"


def current() -> str:
    """The storage URL of the running test ("" for SQLite); processes it starts inherit it."""
    return os.environ.get(ENV, "")


def _unreachable(exc: Exception) -> None:
    reason = f"PostgreSQL not reachable at {ADMIN_URL}: {str(exc).strip()}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def create_database() -> str:
    """A fresh, empty database; returns its URL (the service applies its migrations)."""
    import psycopg

    try:
        return pg.create_database(ADMIN_URL, PREFIX)
    except psycopg.OperationalError as exc:
        _unreachable(exc)


def drop_database(url: str) -> None:
    """Drop the test's database, ending any session a stopped service left behind."""
    assert url.rsplit("/", 1)[1].startswith(PREFIX)
    pg.drop_database(ADMIN_URL, url)
