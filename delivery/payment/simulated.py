"""The simulated payment provider: approves, declines tok_declined, never charges an order twice."""

from __future__ import annotations

import threading
import uuid

from ..store.db import Database
from .provider import Outcome

DECLINED_TOKEN = "tok_declined"


class SimulatedProvider:
    """A provider with its own ledger (a table in the service's file); safe to call from threads."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._local = threading.local()

    @property
    def db(self) -> Database:
        if not hasattr(self._local, "db"):
            self._local.db = Database(self.db_path)
        return self._local.db

    def charge(self, order_id: str, amount: int, card_token: str, at: str) -> Outcome:
        known = self._ledger(order_id, "charge")
        if known:
            return Outcome(True, known)  # the order id is the idempotency key
        if card_token == DECLINED_TOKEN:
            return Outcome(False, "", "card declined by issuer")
        return Outcome(True, self._record(order_id, "charge", amount, at))

    def refund(self, order_id: str, amount: int, at: str) -> Outcome:
        known = self._ledger(order_id, "refund")
        return Outcome(True, known or self._record(order_id, "refund", amount, at))

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
