"""Entity actors: one per order, store or rider, activated by a registry from durable state."""

from __future__ import annotations

import os
from typing import Any

from ..store.db import Database
from .base import ServiceActor
from .messages import Activate, CrashEntity, Finished, Retired


class EntityActor(ServiceActor):
    """An actor for one entity; its registry is its parent and owns its lifecycle."""

    broken = False

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, CrashEntity):
            self.broken = True
        elif self.broken:
            # An injected crash: the process exits on a multi-process base; on simpleSystemBase
            # the instance fails on every message until its registry replaces it.
            if self.settings["actors"]["base"] != "simpleSystemBase":
                os._exit(70)
            raise RuntimeError(f"{self.KIND} {self.key} crashed (injected fault)")
        super().receiveMessage(message, sender)

    def on_activate(self, message: Activate, sender: Any) -> None:
        self.key, self.parent, self.registry = message.key, str(sender), sender
        self.settings, self.peers = message.settings, message.peers
        self.db = Database.shared(self.settings["actors"]["db_path"])
        self.activated()

    def activated(self) -> None:
        """Load state for self.key (the hook subclasses fill in)."""

    def finished(self) -> None:
        """Ask the registry to passivate this actor: nothing more will happen to the entity."""
        self.send(self.registry, Finished(self.key))

    def on_exit(self, message: Any, sender: Any) -> None:
        if getattr(self, "registry", None) is not None:
            self.send(self.registry, Retired(self.key, self.messages_in))
