"""Projector: keeps the read model level with the journal and answers commands once projected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..persistence.db import Database
from ..persistence.inboxes import concerns_store
from ..persistence.journal import Record
from ..persistence.readmodel import ReadModel
from .base import handles
from .consumer import JournalConsumer
from .messages import Committed, Nudge, Reply


class Projector(JournalConsumer):
    """Applies journal records to the read model in order; the reply to a command waits for it."""

    KIND = "projector"

    def started(self) -> int:
        # The orders' connection in this process: its group commit is flushed here, before
        # anyone hears of the events (a no-op on bases where orders commit one by one).
        self.journal_db = Database.shared(self.facts.db_path, durable=True)
        self.model = ReadModel(self.db)
        self.projected = 0
        return self.model.checkpoint()

    @handles(Committed)
    def on_committed(self, m: Committed, sender: Any) -> None:
        if m.seq > self.position:
            self.journal_db.flush()
            self.catch_up()
        if m.corr and m.reply_to is not None:
            # Read-your-writes: the requester hears back only after the read model has the change.
            self.send(m.reply_to, Reply(m.corr, m.view))

    def consume(self, records: Sequence[Record]) -> int:
        self.model.apply(records)
        self.position = records[-1].seq
        self.projected += len(records)
        self.send(self.peers.notifier, Nudge(self.position))
        for store_id in sorted({r.store_id for r in records if concerns_store(r)}):
            self.send(self.peers.stores, Nudge(self.position, store_id))
        return len(records)

    def describe(self) -> str:
        db = getattr(self, "journal_db", None)
        if db is None:
            return "starting"
        per_group = f" commits/group={db.group_size}" if db.groups else ""
        return f"position={self.position} projected={self.projected} groups={db.groups}{per_group}"
