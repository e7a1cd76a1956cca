"""StoreActor: one per store; store management's inbox of paid orders, cancellations and refunds."""

from __future__ import annotations

from typing import Any

from .. import clock
from ..domain.commands import RegisterStore
from ..domain.onboarding import initial_status
from ..persistence.db import Database
from ..persistence.directory import Directory, Store
from ..persistence.inboxes import StoreInboxes
from .base import handles
from .entity import EntityActor
from .messages import Envelope, Nudge

INBOX_BATCH = 1000
"""Inbox events a store takes from the journal at a time."""


class StoreActor(EntityActor):
    """The live store: registers itself, keeps its menu and receives its orders from the journal."""

    KIND = "store"

    def activated(self) -> None:
        self.directory = Directory(self.db)
        # The inbox is derived from the journal (with its checkpoint): no fsync of its own.
        self.inboxes = StoreInboxes(Database.shared(self.facts.db_path, durable=False))
        self.store = self.directory.store(self.key)
        self.received = 0  # it catches up when its registry nudges it (where it holds the lease)

    @handles(RegisterStore)
    def on_register(self, envelope: Envelope, sender: Any) -> None:
        m: RegisterStore = envelope.body
        if self.store is None:
            self.store = Store(m.store_id, m.name, m.owner_phone, m.location, m.menu)
            self.directory.add_store(self.store, m.token, clock.now(),
                                     status=initial_status(self.settings.onboarding.auto_approve))
        self.reply(envelope, sender, {"id": self.store.id,
                                      "status": self.directory.status("stores", self.key)})

    @handles(Nudge)
    def on_nudge(self, message: Nudge, sender: Any) -> None:
        if self.store is not None:
            self.catch_up()

    def catch_up(self) -> None:
        """Receive every inbox event after the checkpoint, in order, each exactly once."""
        while records := self.inboxes.due(self.key, INBOX_BATCH):
            self.inboxes.receive(self.key, records, clock.now())
            self.received += len(records)
            if len(records) < INBOX_BATCH:
                break  # that was the end: no second look (two statements a nudge fewer)

    def describe(self) -> str:
        return "unregistered" if self.store is None else f"received={self.received}"
