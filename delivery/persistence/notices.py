"""Notices: every message sent to a customer or a store owner (table `notifications`), written
by the notifier with its checkpoint, read by the notification endpoints."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..domain.notices import Notice
from . import checkpoints
from .db import Database
from .outbox import WebhookOutbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    recipient_kind TEXT NOT NULL, recipient_id TEXT NOT NULL, order_id TEXT NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL, channel TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS notifications_by_recipient
    ON notifications (recipient_kind, recipient_id, seq);
"""

LOG = "log"


@dataclass(frozen=True)
class NoticeRow:
    """A notice as the notifier stored it."""

    id: str
    """"<event_id>:<recipient kind>"."""
    recipient_kind: str
    """customer or store."""
    recipient_id: str
    """Customer id or store id."""
    order_id: str
    """The order it is about."""
    kind: str
    """Template code."""
    at: str
    """Time of the event."""


def add(conn: sqlite3.Connection, notices: Iterable[Notice]) -> int:
    """Keep notices in the caller's transaction; a notice already kept (same id) is never kept,
    nor sent, twice. Returns how many were given."""
    rows = [(n.id, n.recipient_kind, n.recipient_id, n.order_id, n.kind, n.text, n.at, LOG, 1)
            for n in notices]
    conn.executemany("INSERT INTO notifications (id, recipient_kind, recipient_id,"
                     " order_id, kind, text, at, channel, delivered)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
    return len(rows)


class Notices:
    """The reading side of notices."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def of(self, recipient_kind: str, recipient_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """A person's notifications, newest first."""
        # With the webhook channel on, a notice is delivered once the webhook took it.
        rows = self.db.execute(
            "SELECT n.id, n.order_id, n.kind, n.text, n.at, COALESCE(d.channel, n.channel),"
            " CASE WHEN d.notice_id IS NULL THEN n.delivered"
            " WHEN d.delivered_at IS NULL THEN 0 ELSE 1 END"
            " FROM notifications n LEFT JOIN webhook_outbox d ON d.notice_id = n.id"
            " WHERE n.recipient_kind = ? AND n.recipient_id = ? ORDER BY n.seq DESC LIMIT ?",
            (recipient_kind, recipient_id, limit))
        return [{"id": r[0], "order_id": r[1], "kind": r[2], "text": r[3], "at": r[4],
                 "channel": r[5], "delivered": bool(r[6])} for r in rows]

    def rows(self) -> list[NoticeRow]:
        """Every notice kept, in the order it was kept (for the audit)."""
        rows = self.db.execute("SELECT id, recipient_kind, recipient_id, order_id, kind, at"
                               " FROM notifications ORDER BY seq")
        return [NoticeRow(*row) for row in rows]

    def stats(self) -> dict[str, int]:
        """Notices sent; pending (events the notifier has not reached, webhook messages not yet
        taken); failed (webhook messages whose last attempt failed; they are retried)."""
        kept = self.db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0]
        webhook = WebhookOutbox(self.db).stats()
        behind = checkpoints.lag(self.db, checkpoints.NOTIFIER)
        sent = webhook["sent"] if webhook["pending"] + webhook["sent"] else kept
        return {"sent": sent, "pending": webhook["pending"] + behind, "failed": webhook["failed"]}
