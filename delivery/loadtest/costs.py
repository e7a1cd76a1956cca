"""What a run cost the service, per lifecycle: actor messages (summed over the nodes the harness
talks to, each through its admin stats) and, on PostgreSQL, transactions and rows written (the
database's own statistics, so every node behind one port is counted). A statement outside an
explicit transaction (most reads) is a transaction of its own there, so `transactions` is about
the reads plus the write transactions."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from ..persistence.db import is_postgres

PG_COUNTERS = ("SELECT xact_commit, xact_rollback, tup_inserted + tup_updated + tup_deleted"
               " FROM pg_stat_database WHERE datname = current_database()")


async def snapshot(session: aiohttp.ClientSession, urls: list[str], admin_token: str,
                   storage_url: str | None, nodes_behind_each: int = 1) -> dict[str, int | None]:
    """The counters now; a counter that cannot be read (no admin token, several nodes behind
    one URL, SQLite) is None. PostgreSQL publishes a session's counts within a second while it
    works but up to 10 s after it goes idle: read them again once the service has stopped
    (`storage_counters`) for exact figures."""
    messages = None
    if admin_token and nodes_behind_each == 1:
        messages = 0
        for url in urls:
            async with session.get(f"{url.rstrip('/')}/admin/api/stats", headers={
                    "Authorization": f"Bearer {admin_token}"}) as r:
                messages += (await r.json())["actor_messages"] if r.status == 200 else 0
    counters: dict[str, int | None] = {"actor_messages": messages, "transactions": None,
                                       "rollbacks": None, "rows_written": None}
    if storage_url and is_postgres(storage_url):
        counters.update(await asyncio.to_thread(storage_counters, storage_url))
    return counters


def storage_counters(url: str) -> dict[str, int]:
    """The database's transactions (committed), rollbacks and rows written so far."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        commits, rollbacks, rows = conn.execute(PG_COUNTERS).fetchone()
    return {"transactions": commits, "rollbacks": rollbacks, "rows_written": rows}


def per_lifecycle(before: dict[str, Any], after: dict[str, Any], lifecycles: int) -> dict[str, Any]:
    """Each counter's growth divided by the lifecycles that ended (None where not counted)."""
    return {name: round((after[name] - before[name]) / lifecycles, 2)
            if lifecycles and before[name] is not None and after[name] is not None else None
            for name in before}
