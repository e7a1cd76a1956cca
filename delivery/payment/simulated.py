"""The simulated payment provider: approves, declines tok_declined, never charges an order twice."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass

from ..store.db import Database

DECLINED_TOKEN = "tok_declined"


@dataclass(frozen=True)
class Outcome:
    """What the provider answered."""

    ok: bool
    """True: approved."""
    reference: str
    """Provider's id of the charge or refund ('' when not approved)."""
    reason: str = ""
    """Why not, when not approved."""


class ProviderError(Exception):
    """The provider failed to answer (overloaded, down, timed out)."""


class SimulatedProvider:
    """A provider with its own ledger (a table in the service's file), latency and failure rate."""

    def __init__(self, db: Database, rng: random.Random | None = None) -> None:
        self.db = db
        self.delay_ms = 0
        self.fail_rate = 0.0
        self.rng = rng or random.Random()

    def charge(self, order_id: str, amount: int, card_token: str, at: str) -> Outcome:
        self._misbehave()
        known = self._ledger(order_id, "charge")
        if known:
            return Outcome(True, known)  # the order id is the idempotency key
        if card_token == DECLINED_TOKEN:
            return Outcome(False, "", "card declined by issuer")
        return Outcome(True, self._record(order_id, "charge", amount, at))

    def refund(self, order_id: str, amount: int, at: str) -> Outcome:
        self._misbehave()
        known = self._ledger(order_id, "refund")
        return Outcome(True, known or self._record(order_id, "refund", amount, at))

    def _misbehave(self) -> None:
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        if self.fail_rate and self.rng.random() < self.fail_rate:
            raise ProviderError("simulated provider failure")

    def _ledger(self, order_id: str, kind: str) -> str | None:
        row = self.db.execute("SELECT reference FROM provider_ledger WHERE order_id = ? AND kind = ?",
                              (order_id, kind)).fetchone()
        return row[0] if row else None

    def _record(self, order_id: str, kind: str, amount: int, at: str) -> str:
        reference = f"{'pay' if kind == 'charge' else 're'}_{uuid.uuid4().hex[:16]}"
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO provider_ledger VALUES (?, ?, ?, ?, ?)",
                         (order_id, kind, reference, amount, at))
        return reference

    def charges(self, order_id: str) -> int:
        """How many times the order was charged (0 or 1); for checks and tests."""
        return self.db.execute("SELECT COUNT(*) FROM provider_ledger WHERE order_id = ?"
                               " AND kind = 'charge'", (order_id,)).fetchone()[0]
