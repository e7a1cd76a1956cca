"""Notifier: the customer's and the store owner's messages, one per event and recipient."""

from __future__ import annotations

import json
import time
from typing import Any

from ..domain.notices import notices_for
from ..notify.webhook import alimtalk_message
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
        self.parent, self.peers = str(sender), message.peers
        self.webhook = "webhook" in message.settings["notifications"]["channels"]
        self.phones: dict[tuple[str, str], str] = {}
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
        rows, outbox, position = [], [], self.position
        for rec in records:
            state = self.model.state(rec.event.order_id)
            if state is None or state.version < rec.event.version:
                break  # the projector has not got here yet; its next nudge brings us back
            for n in notices_for(rec.event, state):
                rows.append((n.id, n.recipient_kind, n.recipient_id, n.order_id, n.kind, n.text,
                             n.at, "log", 1))
                if self.webhook:
                    message = alimtalk_message(n, self._phone(n.recipient_kind, n.recipient_id))
                    outbox.append((n.id, "webhook", json.dumps(message, ensure_ascii=False),
                                   time.time()))
            position = rec.seq
        if position == self.position:
            return 0
        with self.db.transaction() as conn:
            # INSERT OR IGNORE: a notice already delivered (same id) is never delivered twice.
            conn.executemany("INSERT OR IGNORE INTO notifications (id, recipient_kind, recipient_id,"
                             " order_id, kind, text, at, channel, delivered)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            # The webhook's outbox rows commit with the notices: sent at least once, later.
            conn.executemany("INSERT OR IGNORE INTO deliveries (notice_id, channel, payload, next_at)"
                             " VALUES (?, ?, ?, ?)", outbox)
            save_checkpoint(conn, CHECKPOINT, position)
        if outbox:
            self.send(self.peers.courier, Nudge(position))
        done = sum(1 for r in records if r.seq <= position)
        self.position = position
        self.sent += len(rows)
        return done

    def _phone(self, kind: str, id: str) -> str:
        if (kind, id) not in self.phones:
            sql = ("SELECT phone FROM customers WHERE id = ?" if kind == "customer"
                   else "SELECT owner_phone FROM stores WHERE id = ?")
            row = self.db.execute(sql, (id,)).fetchone()
            self.phones[(kind, id)] = row[0] if row else ""
        return self.phones[(kind, id)]

    def describe(self) -> str:
        return f"position={self.position} sent={self.sent}"

    HANDLERS = {Start: "on_start", Nudge: "on_nudge", GetStats: "on_get_stats"}
