"""Idempotency records: who claimed each Idempotency-Key, for which body, and the first answer
(table `idempotency_keys`). A key lives `idempotency.ttl_h` hours; an expired one is purged on
the next claim and may then be used again as a new key."""

from __future__ import annotations

from dataclasses import dataclass

from .db import Database

# `idempotency` (before issue 12) kept keys forever and without the entity id; it is no longer
# read, so an older data directory starts with no keys (a retry of a day-old request is new).
SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL, key TEXT NOT NULL, body_hash TEXT NOT NULL, entity_id TEXT NOT NULL,
    status INTEGER NOT NULL, response TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (scope, key));
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_at);
"""

IN_PROGRESS = 0
"""`status` of a claim whose first request has not answered yet."""


@dataclass(frozen=True)
class Claim:
    """What a key stands for."""

    body_hash: str
    """SHA-256 of the request body the key was first used with."""
    entity_id: str
    """Id of what the first request creates."""
    status: int
    """HTTP status of the first answer, or IN_PROGRESS."""
    response: str
    """The first answer, as JSON with its secrets stripped ("" while in progress)."""
    ours: bool
    """True when this request made the claim (it is the first with this key)."""


class IdempotencyRecords:
    """Claims and answers by (scope, key)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, scope: str, key: str, body_hash: str, entity_id: str, now: float,
              ttl_s: float) -> Claim:
        """Claim the key for this body, or return the live claim that got here first.

        Expired keys are purged in the same transaction, so an expired key is claimed anew.
        """
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM idempotency_keys WHERE created_at <= ?", (now - ttl_s,))
            inserted = conn.execute(
                "INSERT INTO idempotency_keys VALUES (?, ?, ?, ?, ?, '', ?)"
                " ON CONFLICT DO NOTHING",
                (scope, key, body_hash, entity_id, IN_PROGRESS, now)).rowcount
            row = conn.execute("SELECT body_hash, entity_id, status, response FROM idempotency_keys"
                               " WHERE scope = ? AND key = ?", (scope, key)).fetchone()
        return Claim(*row, ours=bool(inserted))

    def answer(self, scope: str, key: str, status: int, response: str) -> None:
        """Keep the first answer of a claim."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE idempotency_keys SET status = ?, response = ?"
                         " WHERE scope = ? AND key = ?", (status, response, scope, key))

    def release(self, scope: str, key: str) -> None:
        """Forget a claim whose request failed, so that a retry runs it again."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status = ?",
                         (scope, key, IN_PROGRESS))

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM idempotency_keys").fetchone()[0]
