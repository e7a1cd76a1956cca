"""The journal's consumers: actors that read the journal in order from a durable position."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ..persistence.db import Database
from ..persistence.faults import StorageFault
from ..persistence.journal import Journal, Record
from .base import ServiceActor, handles, log
from .leased import LeaseHolder
from .messages import Nudge, RetryCatchUp, Start

BATCH = 500
RETRY_MIN_S, RETRY_MAX_S = 0.1, 2.0  # backoff of a write the disk refused


class JournalConsumer(LeaseHolder, ServiceActor):
    """Reads journal records after `position` in batches and hands them to `consume`.

    The subclass keeps its position with its output in one transaction, so after a crash it
    resumes where its last commit left it and deduplicates by event id. One with a LEASE reads
    only while this node holds it, and starts again from the checkpoint when it takes it (the
    node that held it before may have moved on).
    """

    retry_due = False  # a timer to catch up again is set
    retry_delay_s = RETRY_MIN_S  # the wait before the next try, doubling while the disk refuses

    @handles(Start)
    def on_start(self, message: Start, sender: Any) -> None:
        self.parent, self.peers, self.settings = str(sender), message.peers, message.settings
        self.facts = message.facts
        self.init_leases(self.settings, self.facts)
        # Derived data: its checkpoint commits with it, so no fsync of its own (see Database).
        self.db = Database.shared(self.facts.db_path, durable=False)
        self.journal = Journal(self.db)
        self.position = self.started()
        self.catch_up()

    def started(self) -> int:
        """Open what the consumer needs; returns its durable position."""
        raise NotImplementedError

    def checkpoint(self) -> int:
        """The durable position, as the node that last held the lease left it."""
        raise NotImplementedError

    def leases_gained(self, gained: frozenset[str]) -> None:
        if self.LEASE in gained:
            self.position = self.checkpoint()
            self.catch_up()

    @handles(Nudge)
    def on_nudge(self, message: Nudge, sender: Any) -> None:
        # Records the sender read already (the projector's, on one process) are taken as they
        # are when they follow on from this consumer's position: no read of the journal.
        if not (message.records and message.since == self.position
                and self.consume_given(message.records)):
            self.catch_up()

    def consuming(self) -> bool:
        """Whether records handed over may be consumed now: this node consumes (its lease, if
        the consumer has one), and no refused write waits for its retry."""
        return not self.retry_due and (not self.LEASE or self.holds())

    def consume_given(self, records: Sequence[Record]) -> bool:
        """Consume records handed over rather than read; False when they could not all be
        (the caller reads the journal). A write the disk refuses is retried as in catch_up."""
        if not self.consuming():
            return False
        try:
            done = self.consume(records)
        except StorageFault as fault:
            self._retry_later(fault)
            return True  # the retry reads the journal
        return done == len(records)

    @handles(RetryCatchUp)
    def on_retry(self, message: RetryCatchUp, sender: Any) -> None:
        self.retry_due = False
        self.catch_up()

    def catch_up(self) -> None:
        """Consume until the journal's end, or until `consume` cannot go further for now.

        A write the disk refuses is tried again on a timer (backing off) until it succeeds:
        derived data must follow every event the journal holds, whenever space returns.
        """
        if self.LEASE and not self.holds():
            return  # another node consumes
        try:
            while records := self.journal.read_since(self.position, BATCH):
                done = self.consume(records)
                if done < len(records):
                    break
        except StorageFault as fault:
            self._retry_later(fault)
            return
        self.retry_delay_s = RETRY_MIN_S

    def _retry_later(self, fault: StorageFault) -> None:
        if self.retry_due:
            return
        delay = self.retry_delay_s
        log.warning("%s: %s; trying again in %.1f s", self.KIND, fault.reason, delay)
        self.retry_due, self.retry_delay_s = True, min(RETRY_MAX_S, delay * 2)
        self.wakeupAfter(timedelta(seconds=delay), payload=RetryCatchUp())

    def consume(self, records: Sequence[Record]) -> int:
        """Process records in order, move `position`; returns how many were processed."""
        raise NotImplementedError
