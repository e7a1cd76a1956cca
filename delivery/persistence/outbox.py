"""The webhook outbox: notices waiting to be POSTed to the webhook channel (table
`webhook_outbox`). Rows are added in the notifier's transaction and sent by the WebhookSender,
at least once, with a stable id for the receiver to deduplicate."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from .db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    notice_id TEXT NOT NULL, channel TEXT NOT NULL, payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, delivered_at TEXT,
    last_error TEXT, PRIMARY KEY (notice_id, channel));
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (delivered_at, next_at);
"""

WEBHOOK = "webhook"


@dataclass(frozen=True)
class OutboxEntry:
    """A message waiting to be sent."""

    notice_id: str
    """The notice it carries; also the receiver's deduplication key."""
    payload: str
    """The JSON body to POST."""
    attempts: int
    """How many times sending it failed so far."""


def enqueue(conn: sqlite3.Connection, entries: Iterable[tuple[str, str, float]]) -> None:
    """Add (notice_id, payload, due at) rows in the caller's transaction; a notice already queued
    is not queued twice."""
    conn.executemany("INSERT INTO webhook_outbox (notice_id, channel, payload, next_at)"
                     f" VALUES (?, '{WEBHOOK}', ?, ?) ON CONFLICT DO NOTHING", entries)


class WebhookOutbox:
    """The sender's side of the outbox."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def due(self, now: float, limit: int) -> list[OutboxEntry]:
        """Unsent entries whose time has come, oldest first."""
        rows = self.db.execute(
            "SELECT notice_id, payload, attempts FROM webhook_outbox WHERE channel = ?"
            " AND delivered_at IS NULL AND next_at <= ? ORDER BY rowid LIMIT ?",
            (WEBHOOK, now, limit)).fetchall()
        return [OutboxEntry(*row) for row in rows]

    def claim(self, entries: list[OutboxEntry], now: float, until: float) -> list[OutboxEntry]:
        """Of entries found due, those still unsent and due now, each made not due until `until`
        for everyone else, in one transaction: two senders that both found an entry due (a node
        that lost its lease without knowing yet, a paused one resumed) do not both send it. A
        sender that dies holding a claim leaves the entry to be sent again after `until`."""
        claimed = []
        with self.db.transaction() as conn:
            for entry in entries:
                cur = conn.execute("UPDATE webhook_outbox SET next_at = ? WHERE notice_id = ?"
                                   " AND channel = ? AND delivered_at IS NULL AND next_at <= ?",
                                   (until, entry.notice_id, WEBHOOK, now))
                if cur.rowcount == 1:
                    claimed.append(entry)
        return claimed

    def sent(self, notice_id: str, attempts: int, at: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE webhook_outbox SET delivered_at = ?, attempts = ?"
                         " WHERE notice_id = ? AND channel = ? AND delivered_at IS NULL",
                         (at, attempts, notice_id, WEBHOOK))

    def failed(self, notice_id: str, attempts: int, next_at: float, error: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE webhook_outbox SET attempts = ?, next_at = ?, last_error = ?"
                         " WHERE notice_id = ? AND channel = ?",
                         (attempts, next_at, error, notice_id, WEBHOOK))

    def next_due_at(self) -> float | None:
        """When the earliest unsent entry falls due, or None when nothing is waiting."""
        return self.db.execute("SELECT MIN(next_at) FROM webhook_outbox WHERE channel = ?"
                               " AND delivered_at IS NULL", (WEBHOOK,)).fetchone()[0]

    def stats(self) -> dict[str, int]:
        """Entries not sent yet; of them, those whose last attempt failed; entries sent."""
        pending, failed, sent = self.db.execute(
            "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL),"
            " COUNT(*) FILTER (WHERE delivered_at IS NULL AND attempts > 0),"
            " COUNT(*) FILTER (WHERE delivered_at IS NOT NULL) FROM webhook_outbox").fetchone()
        return {"pending": pending, "failed": failed, "sent": sent}
