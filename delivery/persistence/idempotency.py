"""Idempotency records: the first answer to each Idempotency-Key (table `idempotency`)."""

from __future__ import annotations

from dataclasses import dataclass

from .db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, body_hash TEXT NOT NULL, status INTEGER NOT NULL,
    response TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (scope, key));
"""


@dataclass(frozen=True)
class Answer:
    """The answer stored for a key."""

    body_hash: str
    """SHA-256 of the request body the key was first used with."""
    status: int
    """HTTP status of the first answer."""
    response: str
    """The first answer, as JSON (secrets stripped)."""


class IdempotencyRecords:
    """Answers by (scope, key)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, scope: str, key: str) -> Answer | None:
        row = self.db.execute("SELECT body_hash, status, response FROM idempotency"
                              " WHERE scope = ? AND key = ?", (scope, key)).fetchone()
        return Answer(*row) if row else None

    def keep(self, scope: str, key: str, answer: Answer, at: str) -> None:
        """Store the first answer; a concurrent first answer that got here earlier wins."""
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                         (scope, key, answer.body_hash, answer.status, answer.response, at))
