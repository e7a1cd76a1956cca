"""Notifier: the customer's and the store owner's messages, one per event and recipient."""

from __future__ import annotations

from typing import Any

from ..domain.notices import notices_for
from ..store.db import Database
from ..store.journal import Journal, save_checkpoint
from ..store.readmodel import ReadModel
from .base import ServiceActor
from .messages import GetStats, Nudge, Start

CHECKPOINT = "notifier"


class Notifier(ServiceActor):
    """Turns journal records into notices and delivers them through the configured channels."""

    KIND = "notifier"

    def on_start(self, message: Start, sender: Any) -> None:
        self.parent = str(sender)
        self.db = Database.shared(message.settings["actors"]["db_path"], durable=False)
        self.journal, self.model = Journal(self.db), ReadModel(self.db)
        self.position = self.journal.checkpoint(CHECKPOINT)
        self.sent = 0
        self.catch_up()

    def on_nudge(self, m: Nudge, sender: Any) -> None:
        self.catch_up()

    def catch_up(self) -> None:
        while True:
            records = self.journal.read_since(self.position, 500)
            done = self._deliver(records)
            if done < len(records) or not records:
                return

    def _deliver(self, records) -> int:
        """Deliver notices of the records in order; stops where the projector is behind."""
        rows, position = [], self.position
        for rec in records:
            state = self.model.state(rec.event.order_id)
            if state is None or state.version < rec.event.version:
                break  # the projector has not got here yet; its next nudge brings us back
            for n in notices_for(rec.event, state):
                rows.append((n.id, n.recipient_kind, n.recipient_id, n.order_id, n.kind, n.text,
                             n.at, "log", 1))
            position = rec.seq
        if position == self.position:
            return 0
        with self.db.transaction() as conn:
            # INSERT OR IGNORE: a notice already delivered (same id) is never delivered twice.
            conn.executemany("INSERT OR IGNORE INTO notifications (id, recipient_kind, recipient_id,"
                             " order_id, kind, text, at, channel, delivered)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            save_checkpoint(conn, CHECKPOINT, position)
        done = sum(1 for r in records if r.seq <= position)
        self.position = position
        self.sent += len(rows)
        return done

    def describe(self) -> str:
        return f"position={self.position} sent={self.sent}"

    HANDLERS = {Start: "on_start", Nudge: "on_nudge", GetStats: "on_get_stats"}
