"""The outbox of the sending channels: notices waiting to be POSTed to the webhook channel or sent
by AlimTalk (table `webhook_outbox`, one row per notice and channel). Rows are added in the
notifier's transaction and sent by the channel's sender actor, at least once, with a stable id
for the receiver to deduplicate.

`delivered_at` is when the channel took the message. A webhook that took it has delivered it;
NHN Cloud only accepts an AlimTalk (`outcome` "accepted", `provider_ref` "<requestId>/<seq>")
and the delivery result comes later ("delivered", or "failed" when KakaoTalk, and the SMS
fallback if any, could not deliver it, or the message was refused for good)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from .db import Database, insert_rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    notice_id TEXT NOT NULL, channel TEXT NOT NULL, payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, delivered_at TEXT,
    last_error TEXT, PRIMARY KEY (notice_id, channel));
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (delivered_at, next_at);
"""

WEBHOOK, ALIMTALK = "webhook", "alimtalk"
ACCEPTED, DELIVERED, FAILED = "accepted", "delivered", "failed"
_COLUMNS = (("outcome", "TEXT"), ("provider_ref", "TEXT"), ("detail", "TEXT"),
            ("generation", "INTEGER NOT NULL DEFAULT 0"))


def migrate(conn: sqlite3.Connection) -> None:
    """Add the delivery-result columns to an outbox of an earlier version.

    Under the write lock, looking again once it is held: connections opening one file at once
    (the simulated provider's threads do) would otherwise both add a column, and the second fail
    with "duplicate column name"."""
    if not _missing(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name, kind in _missing(conn):
            conn.execute(f"ALTER TABLE webhook_outbox ADD COLUMN {name} {kind}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _missing(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    have = {row[1] for row in conn.execute("PRAGMA table_info(webhook_outbox)")}
    return [(name, kind) for name, kind in _COLUMNS if name not in have]


@dataclass(frozen=True)
class OutboxEntry:
    """A message waiting to be sent."""

    notice_id: str
    """The notice it carries; also the receiver's deduplication key."""
    payload: str
    """The JSON body to POST."""
    attempts: int
    """How many times sending it failed so far."""
    generation: int = 0
    """How many times it was sent afresh after a delivery failure worth retrying (part of its
    idempotency key)."""
    provider_ref: str | None = None
    """The channel's id of the message once accepted (AlimTalk: "<requestId>/<recipientSeq>")."""
    at: str | None = None
    """When the channel took it."""


def enqueue(conn: sqlite3.Connection, entries: Iterable[tuple[str, str, float]],
            channel: str = WEBHOOK) -> None:
    """Add (notice_id, payload, due at) rows in the caller's transaction; a notice already queued
    is not queued twice."""
    rows = [(n, channel, p, t) for n, p, t in entries]
    if rows:
        insert_rows(conn, "INSERT INTO webhook_outbox (notice_id, channel, payload, next_at)",
                    rows, "ON CONFLICT DO NOTHING")


class WebhookOutbox:
    """A sender's side of the outbox, for one channel."""

    def __init__(self, db: Database, channel: str = WEBHOOK) -> None:
        self.db, self.channel = db, channel

    def due(self, now: float, limit: int) -> list[OutboxEntry]:
        """Unsent entries whose time has come, oldest first."""
        rows = self.db.execute(
            "SELECT notice_id, payload, attempts, generation FROM webhook_outbox WHERE channel = ?"
            " AND delivered_at IS NULL AND next_at <= ? ORDER BY rowid LIMIT ?",
            (self.channel, now, limit)).fetchall()
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
                                   (until, entry.notice_id, self.channel, now))
                if cur.rowcount == 1:
                    claimed.append(entry)
        return claimed

    def sent(self, notice_id: str, attempts: int, at: str, outcome: str = DELIVERED,
             provider_ref: str | None = None, detail: str | None = None) -> None:
        """The channel took the message: delivered, or (AlimTalk) accepted, or refused for good."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE webhook_outbox SET delivered_at = ?, attempts = ?, outcome = ?,"
                         " provider_ref = ?, detail = ? WHERE notice_id = ? AND channel = ?"
                         " AND delivered_at IS NULL",
                         (at, attempts, outcome, provider_ref, detail, notice_id, self.channel))

    def failed(self, notice_id: str, attempts: int, next_at: float, error: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE webhook_outbox SET attempts = ?, next_at = ?, last_error = ?"
                         " WHERE notice_id = ? AND channel = ?",
                         (attempts, next_at, error, notice_id, self.channel))

    def awaiting_result(self, limit: int) -> list[OutboxEntry]:
        """Accepted messages whose delivery result is not known yet, oldest first."""
        rows = self.db.execute(
            "SELECT notice_id, payload, attempts, generation, provider_ref, delivered_at"
            " FROM webhook_outbox WHERE channel = ? AND outcome = ? ORDER BY rowid LIMIT ?",
            (self.channel, ACCEPTED, limit)).fetchall()
        return [OutboxEntry(*row) for row in rows]

    def settled(self, notice_id: str, outcome: str, detail: str) -> None:
        """The delivery result of an accepted message."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE webhook_outbox SET outcome = ?, detail = ? WHERE notice_id = ?"
                         " AND channel = ? AND outcome = ?",
                         (outcome, detail, notice_id, self.channel, ACCEPTED))

    def settled_by_ref(self, provider_ref: str, outcome: str, detail: str) -> int:
        """The same, found by the channel's id of the message (a result webhook); returns how
        many messages changed."""
        with self.db.transaction() as conn:
            return conn.execute("UPDATE webhook_outbox SET outcome = ?, detail = ? WHERE"
                                " provider_ref = ? AND channel = ? AND outcome = ?",
                                (outcome, detail, provider_ref, self.channel, ACCEPTED)).rowcount

    def send_again(self, notice_id: str, next_at: float, why: str) -> None:
        """A delivery failed in a way worth another try: sent afresh, under a new key."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE webhook_outbox SET delivered_at = NULL, outcome = NULL,"
                         " provider_ref = NULL, generation = generation + 1, next_at = ?,"
                         " last_error = ? WHERE notice_id = ? AND channel = ?",
                         (next_at, why, notice_id, self.channel))

    def next_due_at(self) -> float | None:
        """When the earliest unsent entry falls due, or None when nothing is waiting."""
        return self.db.execute("SELECT MIN(next_at) FROM webhook_outbox WHERE channel = ?"
                               " AND delivered_at IS NULL", (self.channel,)).fetchone()[0]

    def stats(self) -> dict[str, int]:
        """Entries not sent yet; of them, those whose last attempt failed; entries sent."""
        pending, failed, sent = self.db.execute(
            "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL),"
            " COUNT(*) FILTER (WHERE delivered_at IS NULL AND attempts > 0),"
            " COUNT(*) FILTER (WHERE delivered_at IS NOT NULL) FROM webhook_outbox"
            " WHERE channel = ?", (self.channel,)).fetchone()
        return {"pending": pending, "failed": failed, "sent": sent}

    def outcomes(self) -> dict[str, int]:
        """Messages by delivery state: pending (not taken yet), accepted, delivered, failed."""
        rows = self.db.execute(
            "SELECT CASE WHEN delivered_at IS NULL THEN 'pending' ELSE COALESCE(outcome, ?) END,"
            " COUNT(*) FROM webhook_outbox WHERE channel = ? GROUP BY 1",
            (DELIVERED, self.channel)).fetchall()
        return {"pending": 0, ACCEPTED: 0, DELIVERED: 0, FAILED: 0, **dict(rows)}
