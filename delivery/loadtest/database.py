"""The storage of a spawned service: SQLite in its data directory, a PostgreSQL URL given, or
(`--storage-url auto`) a fresh PostgreSQL database made for the run and dropped after it, so a
benchmark leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ..persistence.db import is_postgres

AUTO = "auto"
SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"  # --pg-server's default
PREFIX = "delivery_loadtest_"


def chosen(storage_url: str | None, workers: int) -> str:
    """The storage asked for (flag, else DELIVERY_STORAGE_URL, else "" for SQLite); SystemExit
    with one line when it cannot serve `workers` nodes."""
    url = storage_url if storage_url is not None else os.environ.get("DELIVERY_STORAGE_URL", "")
    if url and url != AUTO and not is_postgres(url):
        raise SystemExit(f"--storage-url must be a postgresql:// URL or {AUTO!r}, got {url!r}")
    if workers > 1 and not url:
        raise SystemExit(f"--workers {workers} needs PostgreSQL: --storage-url URL, "
                         f"--storage-url {AUTO} or DELIVERY_STORAGE_URL")
    return url


@contextlib.contextmanager
def storage(url: str, server: str = SERVER) -> Iterator[str]:
    """The storage URL for the run's service; an `auto` database is dropped on the way out."""
    if url != AUTO:
        yield url
        return
    import psycopg

    from ..persistence.pg import create_database, drop_database

    try:
        made = create_database(server, PREFIX)
    except psycopg.OperationalError as exc:
        raise SystemExit(f"--storage-url auto: PostgreSQL not reachable at {server}: "
                         f"{str(exc).strip()}") from None
    try:
        yield made
    finally:
        drop_database(server, made)
