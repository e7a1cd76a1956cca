"""Actors whose work runs on one node of the cluster: they act only while this node holds the
lease (see delivery/cluster/leases.py); the guardian tells them when that changes."""

from __future__ import annotations

from typing import Any, ClassVar

from ..cluster.leases import initial, store_lease
from ..config import RuntimeFacts, Settings
from ..persistence.db import is_postgres
from .base import handles
from .messages import Leases


class LeaseHolder:
    """Mixin of a ServiceActor: `holds()` says whether this node holds the actor's lease now."""

    LEASE: ClassVar[str] = ""
    """The lease the actor's work needs; "" when it needs a store partition's (see holds_store)."""
    leases: frozenset[str] = frozenset()
    partitions = 1

    def init_leases(self, settings: Settings, facts: RuntimeFacts) -> None:
        """What the node holds before the cluster is looked at: all of it on SQLite."""
        self.partitions = settings.cluster.store_partitions
        self.leases = initial(is_postgres(facts.db_path), self.partitions)

    def holds(self) -> bool:
        return self.LEASE in self.leases

    def holds_store(self, store_id: str) -> bool:
        """Whether this node fills the store's inbox now."""
        return store_lease(store_id, self.partitions) in self.leases

    @handles(Leases)
    def on_leases(self, message: Leases, sender: Any) -> None:
        before, self.leases = self.leases, frozenset(message.held)
        gained = self.leases - before
        if gained:
            self.leases_gained(gained)

    def leases_gained(self, gained: frozenset[str]) -> None:
        """Hook: this node has just taken these leases (another node may have moved on since)."""
