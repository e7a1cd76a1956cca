"""The cluster's nodes: who joined, when each was last seen, which leases it said it held
(table `cluster_nodes`). Each node writes its own row; the cluster view reads them all."""

from __future__ import annotations

from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster_nodes (
    name TEXT PRIMARY KEY, name_key INTEGER NOT NULL, pid INTEGER NOT NULL,
    started_at TEXT NOT NULL, last_seen REAL NOT NULL, leases TEXT NOT NULL DEFAULT '');
"""

# The database's clock in seconds since the epoch: every node is judged by one clock.
NOW = {"sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
       "postgresql": "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION"}
FORGET_AFTER_S = 3600.0
"""A node gone this long leaves the table (it is shown as not alive until then)."""


def register(conn: Any, dialect: str, name: str, name_key: int, pid: int, started_at: str) -> None:
    """Add or restart this node's row; rows of nodes gone long ago are dropped."""
    now = NOW[dialect]
    conn.execute(f"DELETE FROM cluster_nodes WHERE last_seen < {now} - ? AND name <> ?",
                 (FORGET_AFTER_S, name))
    conn.execute("INSERT INTO cluster_nodes (name, name_key, pid, started_at, last_seen, leases)"
                 f" VALUES (?, ?, ?, ?, {now}, '') ON CONFLICT (name) DO UPDATE SET"
                 " name_key = excluded.name_key, pid = excluded.pid,"
                 " started_at = excluded.started_at, last_seen = excluded.last_seen, leases = ''",
                 (name, name_key, pid, started_at))


def heartbeat(conn: Any, dialect: str, name: str, leases: frozenset[str]) -> None:
    """The node is alive now and holds `leases`."""
    conn.execute(f"UPDATE cluster_nodes SET last_seen = {NOW[dialect]}, leases = ? WHERE name = ?",
                 (encode(leases), name))


def encode(leases: frozenset[str]) -> str:
    return ",".join(sorted(leases, key=_lease_order))


def decode(text: str) -> tuple[str, ...]:
    return tuple(lease for lease in text.split(",") if lease)


def _lease_order(lease: str) -> tuple[int, str]:
    head, _, number = lease.partition("/")
    return (1, f"{int(number):06d}") if number.isdigit() else (0, head)
