"""Projector: keeps the read model level with the journal and answers commands once projected."""

from __future__ import annotations

from typing import Any

from ..store.db import Database
from ..store.journal import Journal
from ..store.readmodel import ReadModel
from .base import ServiceActor
from .messages import Committed, GetStats, Nudge, Reply, Start
from .store import INBOX_KINDS


class Projector(ServiceActor):
    """Applies journal records to the read model in order; the reply to a command waits for it."""

    KIND = "projector"

    def on_start(self, message: Start, sender: Any) -> None:
        self.parent, self.peers = str(sender), message.peers
        path = message.settings["actors"]["db_path"]
        db = Database.shared(path, durable=False)
        # The orders' connection in this process: its group commit is flushed here, before
        # anyone hears of the events (a no-op on bases where orders commit one by one).
        self.journal_db = Database.shared(path, durable=True)
        self.journal, self.model = Journal(db), ReadModel(db)
        self.position = self.model.checkpoint()
        self.projected = 0
        self.catch_up()

    def on_committed(self, m: Committed, sender: Any) -> None:
        if m.seq > self.position:
            self.journal_db.flush()
            self.catch_up()
        if m.corr and m.reply_to is not None:
            # Read-your-writes: the requester hears back only after the read model has the change.
            self.send(m.reply_to, Reply(m.corr, m.view))

    def on_nudge(self, m: Nudge, sender: Any) -> None:
        self.catch_up()

    def catch_up(self) -> None:
        while True:
            records = self.journal.read_since(self.position, 500)
            if not records:
                return
            self.model.apply(records)
            self.position = records[-1].seq
            self.projected += len(records)
            self._tell_consumers(records)

    def _tell_consumers(self, records) -> None:
        self.send(self.peers.notifier, Nudge(self.position))
        stores = {r.store_id for r in records if type(r.event).__name__ in INBOX_KINDS}
        for store_id in sorted(stores):
            self.send(self.peers.stores, Nudge(self.position, store_id))

    def describe(self) -> str:
        db = self.journal_db
        per_group = f" commits/group={db.group_size}" if db.groups else ""
        return f"position={self.position} projected={self.projected} groups={db.groups}{per_group}"

    HANDLERS = {Start: "on_start", Committed: "on_committed", Nudge: "on_nudge",
                GetStats: "on_get_stats"}

