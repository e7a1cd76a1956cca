"""A node's own PostgreSQL session: it holds the node's name and leases as advisory locks,
heartbeats, and listens for other nodes' journal commits.

One session per node, not one per lease: the leases share the node's fate anyway (a dead node's
session ends and all its locks with it; a paused node keeps them all), each lock can still be
given back alone (pg_advisory_unlock), and connections are a scarce resource of the shared server
(max_connections), already spent on each node's writers and readers.
"""

from __future__ import annotations

import os
import select
import zlib
from typing import Any

from .. import clock
from ..persistence import nodes
from ..persistence.journal import EVENTS_CHANNEL
from ..persistence.pg import PgConnection, connect, migrate
from .leases import NodeRow, lock_key

NODE_LOCKS = 0x64656C6E
"""Advisory-lock namespace of node names ("deln"): a node holds its name while it lives."""
LEASE_LOCKS = 0x64656C63
"""Advisory-lock namespace of leases ("delc"); the lease's number is lock_key(lease)."""
_ADVISORY = ("locktype = 'advisory' AND granted AND objsubid = 2 AND database ="
             " (SELECT oid FROM pg_database WHERE datname = current_database())")


def name_key(name: str) -> int:
    """The lock number of a node name (within NODE_LOCKS)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


class NameTaken(Exception):
    """Another live node holds this name."""


class PgLeaseSession:
    """The lease store of one node over a session of its own (autocommit: nothing waits on it)."""

    def __init__(self, url: str, name: str, channel: str = EVENTS_CHANNEL) -> None:
        migrate(url)
        self.raw = connect(url)
        try:
            self.conn = PgConnection(self.raw)
            self.name = self._claim(name)
            nodes.register(self.conn, "postgresql", self.name, name_key(self.name), os.getpid(),
                           clock.now())
            self.raw.execute(f"LISTEN {channel}")
        except BaseException:
            self.raw.close()
            raise

    def _claim(self, name: str) -> str:
        """The node's name, locked for the session; "/<pid>" is added when a live node has it."""
        for candidate in (name, f"{name}/{os.getpid()}"):
            if self._lock(NODE_LOCKS, name_key(candidate)):
                return candidate
        raise NameTaken(f"cluster node name {name!r} is held by a live node")

    def _lock(self, namespace: int, key: int) -> bool:
        return self.raw.execute("SELECT pg_try_advisory_lock(%s, %s)", (namespace, key)).fetchone()[0]

    # -- LeaseStore ---------------------------------------------------------------------------
    def nodes(self) -> list[NodeRow]:
        return read_nodes(self.raw)

    def heartbeat(self, held: frozenset[str]) -> None:
        nodes.heartbeat(self.conn, "postgresql", self.name, held)

    def try_lock(self, lease: str) -> bool:
        return self._lock(LEASE_LOCKS, lock_key(lease))

    def unlock(self, lease: str) -> None:
        self.raw.execute("SELECT pg_advisory_unlock(%s, %s)", (LEASE_LOCKS, lock_key(lease)))

    # -- wake-ups -------------------------------------------------------------------------------
    def wait(self, timeout: float, also: int | None = None) -> list[str]:
        """Wait up to `timeout` for notifications (or for file descriptor `also` to be readable);
        the payloads that came."""
        # poll, not select: a busy front door holds more than select's 1024 descriptors.
        poller = select.poll()
        for fd in [self.raw.fileno()] + ([also] if also is not None else []):
            poller.register(fd, select.POLLIN)
        poller.poll(max(0.0, timeout) * 1000)
        return [n.payload for n in self.raw.notifies(timeout=0)]

    def close(self) -> None:
        """End the session: every lock it held is free at once."""
        self.raw.close()


def read_nodes(conn: Any) -> list[NodeRow]:
    """Every node of the table; its session is open while some session holds its name's lock."""
    rows = conn.execute(
        f"SELECT n.name, n.started_at, n.last_seen, {nodes.NOW['postgresql']} - n.last_seen,"
        " n.leases, l.pid IS NOT NULL, n.pid FROM cluster_nodes n LEFT JOIN pg_locks l ON"
        f" {_ADVISORY} AND l.classid = {NODE_LOCKS} AND l.objid = n.name_key ORDER BY n.name")
    return [NodeRow(r[0], r[1], r[2], r[3], nodes.decode(r[4]), r[5], r[6]) for r in rows]


def holders(conn: Any) -> dict[int, int]:
    """Backend pid of the session holding each lease lock, by lock_key (the database's truth)."""
    rows = conn.execute(f"SELECT objid, pid FROM pg_locks WHERE {_ADVISORY}"
                        f" AND classid = {LEASE_LOCKS}").fetchall()
    return {int(k): pid for k, pid in rows}


def node_sessions(conn: Any) -> dict[int, int]:
    """Backend pid of the session holding each node name's lock, by name_key."""
    rows = conn.execute(f"SELECT objid, pid FROM pg_locks WHERE {_ADVISORY}"
                        f" AND classid = {NODE_LOCKS}").fetchall()
    return {int(k): pid for k, pid in rows}
