"""Notices: every message sent to a customer or a store owner (table `notifications`), written
by the notifier with its checkpoint, read by the notification endpoints."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..domain.notices import Notice
from . import checkpoints
from .db import Database, insert_rows
from .outbox import ALIMTALK, DELIVERED, WEBHOOK, WebhookOutbox

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
    if rows:
        insert_rows(conn, "INSERT INTO notifications (id, recipient_kind, recipient_id,"
                    " order_id, kind, text, at, channel, delivered)", rows,
                    "ON CONFLICT DO NOTHING")
    return len(rows)


class Notices:
    """The reading side of notices."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def of(self, recipient_kind: str, recipient_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """A person's notifications, newest first."""
        # The channel that carries a notice furthest speaks for it: AlimTalk (delivered once
        # KakaoTalk or its SMS fallback delivered it), else the webhook (once it took it), else
        # the log (delivered by being kept).
        rows = self.db.execute(
            "SELECT n.id, n.order_id, n.kind, n.text, n.at,"
            " COALESCE(a.channel, w.channel, n.channel),"
            " CASE WHEN a.notice_id IS NOT NULL THEN"
            "   (CASE WHEN a.delivered_at IS NULL THEN 'pending' ELSE a.outcome END)"
            "  WHEN w.notice_id IS NOT NULL THEN"
            "   (CASE WHEN w.delivered_at IS NULL THEN 'pending' ELSE COALESCE(w.outcome, ?) END)"
            "  ELSE (CASE WHEN n.delivered <> 0 THEN ? ELSE 'pending' END) END,"
            " COALESCE(a.detail, a.last_error, w.last_error)"
            " FROM notifications n"
            " LEFT JOIN webhook_outbox a ON a.notice_id = n.id AND a.channel = ?"
            " LEFT JOIN webhook_outbox w ON w.notice_id = n.id AND w.channel = ?"
            " WHERE n.recipient_kind = ? AND n.recipient_id = ? ORDER BY n.seq DESC LIMIT ?",
            (DELIVERED, DELIVERED, ALIMTALK, WEBHOOK, recipient_kind, recipient_id, limit))
        return [{"id": r[0], "order_id": r[1], "kind": r[2], "text": r[3], "at": r[4],
                 "channel": r[5], "delivered": r[6] == DELIVERED, "delivery": r[6],
                 "delivery_detail": r[7]} for r in rows]

    def of_order(self, order_id: str) -> list[dict[str, Any]]:
        """Every notice of an order with its delivery per channel (the admin's view)."""
        rows = self.db.execute(
            "SELECT n.id, n.recipient_kind, n.kind, n.at, o.channel, o.delivered_at, o.outcome,"
            " o.provider_ref, o.attempts, COALESCE(o.detail, o.last_error)"
            " FROM notifications n LEFT JOIN webhook_outbox o ON o.notice_id = n.id"
            " WHERE n.order_id = ? ORDER BY n.seq, o.channel", (order_id,))
        found: dict[str, dict[str, Any]] = {}
        for r in rows:
            notice = found.setdefault(r[0], {"id": r[0], "recipient_kind": r[1], "kind": r[2],
                                             "at": r[3], "channels": {"log": DELIVERED}})
            if r[4]:
                notice["channels"][r[4]] = {
                    "delivery": "pending" if r[5] is None else (r[6] or DELIVERED),
                    "reference": r[7], "attempts": r[8], "detail": r[9]}
        return list(found.values())

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
        return {"sent": sent, "pending": webhook["pending"] + behind, "failed": webhook["failed"],
                "alimtalk": WebhookOutbox(self.db, ALIMTALK).outcomes()}
