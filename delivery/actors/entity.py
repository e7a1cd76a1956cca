"""Entity actors: one per order, store or rider, activated by a registry from durable state."""

from __future__ import annotations

from typing import Any

from ..persistence.db import Database
from .base import ServiceActor, handles
from .messages import Activate, Finished, Retired


class EntityActor(ServiceActor):
    """An actor for one entity; its registry is its parent and owns its lifecycle."""

    @handles(Activate)
    def on_activate(self, message: Activate, sender: Any) -> None:
        self.key, self.parent, self.registry = message.key, str(sender), sender
        self.settings, self.facts, self.peers = message.settings, message.facts, message.peers
        self.db = Database.shared(self.facts.db_path)
        self.activated()

    def activated(self) -> None:
        """Load state for self.key (the hook subclasses fill in)."""

    reported = 0
    """Messages counted by the registry already (see Finished)."""

    def finished(self) -> None:
        """Ask the registry to passivate this actor: nothing more will happen to the entity.
        The registry counts our messages from this, the exit request it sends included."""
        counted = self.messages_in + 1
        self.send(self.registry, Finished(self.key, counted - self.reported))
        self.reported = counted

    def on_stop(self) -> None:
        if getattr(self, "registry", None) is not None and self.messages_in != self.reported:
            self.send(self.registry, Retired(self.key, self.messages_in - self.reported))
