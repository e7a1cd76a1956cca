"""Projector: keeps the read model level with the journal and answers commands once projected."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from ..persistence.db import COMMITTED, OPEN, Database
from ..persistence.faults import HEALTH, StorageFault
from ..persistence.inboxes import concerns_store
from ..persistence.journal import Record
from ..persistence.readmodel import ReadModel
from .base import handles, log, storage_refusal
from .consumer import BATCH, JournalConsumer
from .messages import Committed, FlushGroup, Nudge, Reply

REMEMBERED_STATES = 4096
"""Order states the projector keeps of the views it last wrote (an order in progress is read
from the views only if it fell out of these)."""


class Projector(JournalConsumer):
    """Applies journal records to the read model in order; the reply to a command waits for it."""

    KIND = "projector"

    def started(self) -> int:
        # The orders' connection in this process: its group commit is flushed here, before
        # anyone hears of the events (a no-op on bases where orders commit one by one).
        self.journal_db = Database.shared(self.facts.db_path, durable=True)
        self.model = ReadModel(self.db, remember=REMEMBERED_STATES)
        self.projected = 0
        self.waiting: list[Committed] = []  # saved commands whose view is not written yet
        self.told: dict[int, Record] = {}  # records of saved groups, not projected yet
        # On a single process the notifier takes the records projected from us (see Nudge),
        # and the pump ends each turn with a FlushGroup (see on_flush).
        self.in_process = self.settings.actors.in_process
        self.journal_db.waiting = []  # left by a runtime before us in this process, if any
        return self.model.checkpoint()

    @handles(Committed)
    def on_committed(self, m: Committed, sender: Any) -> None:
        """A command whose events are committed (or were appended where no FlushGroup comes:
        another base, a transaction of their own)."""
        self._settle([m])

    @handles(FlushGroup)
    def on_flush(self, m: FlushGroup, sender: Any) -> None:
        """The pump's end of a turn: every actor has had its go, so the open group holds all of
        the turn's commands, however many hops each took; the order actors left their Committed
        on the connection (OrderActor._published). One commit saves them all."""
        held, self.journal_db.waiting = self.journal_db.waiting, []
        try:
            self._project_with_group()
            self._settle(held)
        except Exception:
            # Settled again when Thespian hands us the FlushGroup again: nobody is left waiting
            # for their timeout (an answer given twice is dropped by whoever asked).
            self.journal_db.waiting = held + self.journal_db.waiting
            raise
        if self.journal_db.group_open:  # nothing waits on it; it must not stay open
            with contextlib.suppress(StorageFault):
                self.journal_db.flush()

    def _project_with_group(self) -> None:
        """Write the views of the turn's events in the journal's own group, then commit it: one
        transaction (and one fsync) a turn for the journal and the views, not two. The views
        exist exactly when the events do; if the group fails, both are gone, and the projector
        has moved nothing on. Whenever the group's records do not follow on from the position
        (another node or a tool appended; a failed append left a gap), or this node does not
        project, the records are projected after the commit, as before (`_settle`)."""
        db = self.journal_db
        records = db.group_records
        if not (db.group_open and records and self.consuming()  # a group: one process
                and all(rec.seq == self.position + i for i, rec in enumerate(records, 1))):
            return
        records, gen = list(records), db.group_gen
        try:
            # The states first, outside the group: a view read on our own connection that
            # fails must not take the journal's group with it.
            touched = self.model.evolved(records)
            # atomic: no savepoint on SQLite. Should a later statement fail, the views the
            # earlier ones wrote are written again by the projection after the commit, and the
            # guarded upsert never takes a view back.
            with db.grouped(atomic=True, counted=False) as conn:  # not a command of the turn
                self.model.save(conn, touched, records)
        except StorageFault:
            return  # a read: after the commit, as before; a write: the group is lost (_settle)
        except Exception:  # noqa: BLE001 - a view that cannot be written: project after the commit
            log.exception("projector: the views could not join the journal's group")
            return
        with contextlib.suppress(StorageFault):
            db.flush()
        if db.outcome(gen) == COMMITTED:
            self.model.keep(touched)
            self._projected(records)

    def _settle(self, committed: list[Committed]) -> None:
        """Commit the open group if these are in it, refuse those whose group failed, project,
        and answer those projected (the rest when their records are)."""
        last = self.position
        for m in committed:
            if not self._saved(m):
                # The disk refused the group holding these events: they do not exist. Their
                # order actor forgets them before its next message (OrderActor._forget_lost_events).
                if m.corr and m.reply_to is not None:
                    fault = StorageFault(HEALTH.fault or "the journal's group commit failed")
                    self.send(m.reply_to, Reply(m.corr, None, storage_refusal(fault)))
                continue
            if m.corr and m.reply_to is not None:
                self.waiting.append(m)
            last = max(last, m.seq)
        for rec in self.journal_db.take_committed():
            if rec.seq > self.position:
                self.told[rec.seq] = rec
        if last > self.position and not self._project_told(last):
            self.catch_up()  # answers what it projected
        else:
            self._answer_projected()

    def _project_told(self, seq: int) -> bool:
        """Project the records the group commits saved (as the order actors appended them),
        if they follow on from the position without a gap up to `seq`: no read of the journal.
        False: read it (a record came from elsewhere, e.g. another node, or was dropped)."""
        run, nxt = [], self.position + 1
        while nxt in self.told and len(run) < BATCH:
            run.append(self.told.pop(nxt))
            nxt += 1
        if not run or run[-1].seq < seq or not self.consume_given(run):
            self.told.clear()  # what the journal holds is read instead
            return False
        if self.told:  # left over from before a read of the journal moved the position on
            self.told = {seq: rec for seq, rec in self.told.items() if seq > self.position}
        return True

    def leases_gained(self, gained: frozenset[str]) -> None:
        if self.LEASE in gained:
            self.model.forget()  # the node that held the lease wrote views meanwhile
        super().leases_gained(gained)

    def _saved(self, m: Committed) -> bool:
        """Whether the events of `m` are in the journal, committing their group if it is open."""
        if not m.group:
            return True  # appended in a transaction of its own, committed before it was sent
        if self.journal_db.outcome(m.group) == OPEN:
            # A failed flush marks the group failed: every command of it is refused.
            with contextlib.suppress(StorageFault):
                self.journal_db.flush()
        return self.journal_db.outcome(m.group) == COMMITTED

    def _answer_projected(self) -> None:
        # Read-your-writes: a requester hears back only after the read model has the change.
        if not self.waiting:
            return
        ready = [m for m in self.waiting if m.seq <= self.position]
        if ready:
            self.waiting = [m for m in self.waiting if m.seq > self.position]
        for m in ready:
            self.send(m.reply_to, Reply(m.corr, m.view))

    def catch_up(self) -> None:
        super().catch_up()
        self._answer_projected()  # also after a retried write succeeded

    def consume(self, records: Sequence[Record]) -> int:
        self.model.apply(records)
        self._projected(records)
        return len(records)

    def _projected(self, records: Sequence[Record]) -> None:
        """The views of these records are committed: move on, and tell who reads after us."""
        since, self.position = self.position, records[-1].seq
        self.projected += len(records)
        if self.in_process:
            self.send(self.peers.notifier, Nudge(self.position, records=tuple(records),
                                                 since=since))
        else:
            self.send(self.peers.notifier, Nudge(self.position))
        for store_id in sorted({r.store_id for r in records if concerns_store(r)}):
            self.send(self.peers.stores, Nudge(self.position, store_id))

    def describe(self) -> str:
        db = getattr(self, "journal_db", None)
        if db is None:
            return "starting"
        per_group = f" commits/group={db.group_size}" if db.groups else ""
        waiting = f" waiting={len(self.waiting)}" if self.waiting else ""
        return f"position={self.position} projected={self.projected} groups={db.groups}" \
               f"{per_group}{waiting}"
