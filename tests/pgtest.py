"""A PostgreSQL database of its own for one test: created, used, dropped.

The server is the machine's (127.0.0.1:5432, trust auth) unless DELIVERY_TEST_PG names another
(a URL of a database to connect to for CREATE/DROP DATABASE). In CI (CI=true) a server that
cannot be reached fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import uuid

import pytest

ADMIN_URL = os.environ.get("DELIVERY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = "delivery_test_"

ENV = "DELIVERY_STORAGE_URL"


def current() -> str:
    """The storage URL of the running test ("" for SQLite); processes it starts inherit it."""
    return os.environ.get(ENV, "")


def _admin():
    import psycopg

    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {ADMIN_URL}: {str(exc).strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def create_database() -> str:
    """A fresh, empty database; returns its URL (the service applies its migrations)."""
    name = PREFIX + uuid.uuid4().hex[:12]
    with _admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    """Drop the test's database, ending any session a stopped service left behind."""
    name = url.rsplit("/", 1)[1]
    assert name.startswith(PREFIX)
    with _admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
