"""The journal's consumers: actors that read the journal in order from a durable position."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..persistence.db import Database
from ..persistence.journal import Journal, Record
from .base import ServiceActor, handles
from .messages import Nudge, Start

BATCH = 500


class JournalConsumer(ServiceActor):
    """Reads journal records after `position` in batches and hands them to `consume`.

    The subclass keeps its position with its output in one transaction, so after a crash it
    resumes where its last commit left it and deduplicates by event id.
    """

    @handles(Start)
    def on_start(self, message: Start, sender: Any) -> None:
        self.parent, self.peers, self.settings = str(sender), message.peers, message.settings
        self.facts = message.facts
        # Derived data: its checkpoint commits with it, so no fsync of its own (see Database).
        self.db = Database.shared(self.facts.db_path, durable=False)
        self.journal = Journal(self.db)
        self.position = self.started()
        self.catch_up()

    def started(self) -> int:
        """Open what the consumer needs; returns its durable position."""
        raise NotImplementedError

    @handles(Nudge)
    def on_nudge(self, message: Nudge, sender: Any) -> None:
        self.catch_up()

    def catch_up(self) -> None:
        """Consume until the journal's end, or until `consume` cannot go further for now."""
        while records := self.journal.read_since(self.position, BATCH):
            done = self.consume(records)
            if done < len(records):
                return

    def consume(self, records: Sequence[Record]) -> int:
        """Process records in order, move `position`; returns how many were processed."""
        raise NotImplementedError
