"""The cluster view: nodes, when each was last seen, which leases each holds, and how far behind
each lease's consumer is (GET /admin/api/cluster, the web and terminal consoles)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..config import Settings
from ..persistence import checkpoints
from ..persistence.db import Database
from ..persistence.inboxes import StoreInboxes
from ..persistence.nodes import NOW
from ..persistence.outbox import WebhookOutbox
from . import leases as ls
from .leases import NodeRow
from .session import holders, name_key, node_sessions, read_nodes


def cluster_view(db: Database, settings: Settings, this_node: str) -> dict[str, Any]:
    """What the cluster looks like from this node, in the database's truth."""
    partitions, timeout = settings.cluster.store_partitions, settings.cluster.node_timeout_s
    names = ls.all_leases(partitions)
    if db.dialect == "postgresql":
        rows = read_nodes(db)
        sessions = node_sessions(db)  # name_key -> backend pid
        by_pid = {sessions[name_key(r.name)]: r.name for r in rows if name_key(r.name) in sessions}
        locked = holders(db)
        holder = {lease: by_pid.get(locked.get(ls.lock_key(lease))) for lease in names}
    else:  # one node, holding everything; its row is written once at start
        rows = [_alone(r, this_node, db) for r in _sqlite_rows(db)]
        holder = dict.fromkeys(names, this_node)
    held_by: dict[str, list[str]] = {}
    for lease, node in holder.items():
        if node is not None:
            held_by.setdefault(node, []).append(lease)
    pending = StoreInboxes(db).pending_by_store()
    by_partition: dict[str, int] = dict.fromkeys(names, 0)
    for store, n in pending.items():
        by_partition[ls.store_lease(store, partitions)] += n
    return {
        "storage": db.dialect, "node": this_node, "store_partitions": partitions,
        "node_timeout_s": timeout,
        "nodes": [_node(r, held_by.get(r.name, []), this_node, timeout) for r in rows],
        "leases": [{"name": lease, "holder": holder[lease], **_lag(db, lease, by_partition)}
                   for lease in names],
    }


def _node(r: NodeRow, held: list[str], this_node: str, timeout: float) -> dict[str, Any]:
    return {"name": r.name, "pid": r.pid, "started_at": r.started_at,
            "last_seen": datetime.fromtimestamp(r.last_seen, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "seen_s_ago": round(max(0.0, r.age_s), 3), "alive": r.session and r.age_s <= timeout,
            "session": r.session, "this_node": r.name == this_node, "leases": held}


def _sqlite_rows(db: Database) -> list[NodeRow]:
    cur = db.execute(f"SELECT name, started_at, last_seen, {NOW['sqlite']} - last_seen, leases,"
                     " pid FROM cluster_nodes ORDER BY name")
    return [NodeRow(r[0], r[1], r[2], r[3], (), False, r[5]) for r in cur]


def _alone(r: NodeRow, this_node: str, db: Database) -> NodeRow:
    """On SQLite the node answering is the one alive (it holds the data directory's lock)."""
    if r.name != this_node:
        return r
    now = db.execute(f"SELECT {NOW['sqlite']}").fetchone()[0]
    return NodeRow(r.name, r.started_at, now, 0.0, (), True, r.pid)


def _lag(db: Database, lease: str, by_partition: dict[str, int]) -> dict[str, Any]:
    """How much work waits for the lease's consumer, and what it counts."""
    if lease == ls.NOTIFIER:
        return {"lag": checkpoints.lag(db, checkpoints.NOTIFIER), "lag_of": "journal events"}
    if lease.startswith(ls.STORES):
        return {"lag": by_partition[lease], "lag_of": "journal events (inbox kinds) summed over the partition's stores"}
    if lease == ls.WEBHOOKS:
        return {"lag": WebhookOutbox(db).stats()["pending"], "lag_of": "unsent outbox entries"}
    return {"lag": None, "lag_of": ""}  # positions outside the journal (provider, clock)
