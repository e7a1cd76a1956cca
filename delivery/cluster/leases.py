"""Leases: which node of a cluster runs each consumer that must run once, and how nodes share them.

A lease is held by one node at a time (on PostgreSQL, an advisory lock of the node's session):
the notifier, the webhook sender, the payment reconciler, the sweep (unpaid-order expiry and
refund retries) and each partition of the store inboxes. Nodes balance: each takes at most its
fair share, ceil(leases / live nodes), and gives back what it holds beyond it. A lock alone never
decides correctness; the consumers' checkpoints and event ids do (a paused node keeps its locks).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

NOTIFIER, WEBHOOKS, RECONCILER, SWEEP = "notifier", "webhooks", "reconciler", "sweep"
SINGLETONS = (NOTIFIER, WEBHOOKS, RECONCILER, SWEEP)
"""The consumers that run on one node of the cluster, besides the store partitions."""
STORES = "stores/"
"""Prefix of a store-inbox partition's lease; its number follows."""


def store_partition(store_id: str, partitions: int) -> int:
    """The partition of a store: a hash stable across nodes and restarts."""
    return zlib.crc32(store_id.encode()) % partitions


def store_lease(store_id: str, partitions: int) -> str:
    """The lease a node must hold to fill this store's inbox."""
    return f"{STORES}{store_partition(store_id, partitions)}"


def all_leases(partitions: int) -> tuple[str, ...]:
    """Every lease of a cluster whose store inboxes are split into `partitions`."""
    return SINGLETONS + tuple(f"{STORES}{p}" for p in range(partitions))


def lock_key(lease: str) -> int:
    """The lease's number within the cluster's advisory-lock namespace (small, distinct)."""
    if lease.startswith(STORES):
        return 100 + int(lease[len(STORES):])
    return 1 + SINGLETONS.index(lease)


def initial(clustered: bool, partitions: int) -> frozenset[str]:
    """What a node holds before its first look at the cluster: everything when it is alone by
    construction (SQLite), nothing when others may hold leases (PostgreSQL)."""
    return frozenset() if clustered else frozenset(all_leases(partitions))


@dataclass(frozen=True)
class NodeRow:
    """A node as the cluster's table of nodes shows it."""

    name: str
    """The node's name (cluster.node_name, default the front door's host:port)."""
    started_at: str
    """When it joined."""
    last_seen: float
    """Its last heartbeat, seconds since the epoch (the database's clock)."""
    age_s: float
    """Seconds since that heartbeat, by the database's clock."""
    leases: tuple[str, ...]
    """The leases it said it held at that heartbeat."""
    session: bool
    """Whether its database session is open (a dead node's ends at once; a paused one's stays)."""
    pid: int = 0
    """Its process id on its host."""


def live(nodes: Sequence[NodeRow], timeout_s: float) -> list[NodeRow]:
    """Nodes with an open session and a heartbeat within `timeout_s`."""
    return [n for n in nodes if n.session and n.age_s <= timeout_s]


def fair_share(leases: int, live_nodes: int) -> int:
    """The most leases one node may hold: with this many per node, all of them are held."""
    return math.ceil(leases / max(1, live_nodes))


def preference(node: str, leases: Sequence[str]) -> list[str]:
    """The order in which `node` takes leases: rotated by its name, so that nodes starting together
    reach for different leases first (each then gets its share at its first try)."""
    start = zlib.crc32(node.encode()) % max(1, len(leases))
    return list(leases[start:]) + list(leases[:start])


class LeaseStore(Protocol):
    """Where leases are locked and nodes are seen (a PostgreSQL session; a fake in tests)."""

    def nodes(self) -> list[NodeRow]:
        """Every node of the table, with its session and the age of its heartbeat."""

    def heartbeat(self, held: frozenset[str]) -> None:
        """Record that this node is alive and holds `held`."""

    def try_lock(self, lease: str) -> bool:
        """Take the lease if no one holds it; whether this node holds it now."""

    def unlock(self, lease: str) -> None:
        """Give the lease back."""


class LeaseKeeper:
    """One node's side of the balance: at each tick, give back the surplus or take free leases.

    Time comes from the store (the age of each heartbeat by the database's clock; a fake clock in
    the tests), so nodes on hosts whose clocks disagree judge each other alike."""

    def __init__(self, node: str, store: LeaseStore, leases: Sequence[str], timeout_s: float) -> None:
        self.node, self.store, self.timeout_s = node, store, timeout_s
        self.order = preference(node, leases)
        self.held: frozenset[str] = frozenset()
        self.share = len(self.order)

    def tick(self) -> bool:
        """Look at the cluster, rebalance, heartbeat; whether what this node holds changed."""
        others = [n for n in live(self.store.nodes(), self.timeout_s) if n.name != self.node]
        self.share = fair_share(len(self.order), len(others) + 1)
        held = set(self.held)
        if len(held) > self.share:
            surplus = [lease for lease in reversed(self.order) if lease in held]
            for lease in surplus[:len(held) - self.share]:
                self.store.unlock(lease)
                held.discard(lease)
        else:
            for lease in self.order:
                if len(held) >= self.share:
                    break
                if lease not in held and self.store.try_lock(lease):
                    held.add(lease)
        changed = held != self.held
        self.held = frozenset(held)
        self.store.heartbeat(self.held)
        return changed

    def lost(self) -> bool:
        """The session ended under us: nothing is held any more; whether that is news."""
        changed = bool(self.held)
        self.held = frozenset()
        return changed
