"""The simulated payment provider: approves, declines tok_declined, never charges an order twice."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from ..store.db import Database
from .provider import Outcome

DECLINED_TOKEN = "tok_declined"


class SimulatedProvider:
    """A provider with a ledger of its own (a separate SQLite file beside the service's, as a real
    provider's books are not the service's); safe to call from several threads."""

    FILE_NAME = "simulated-provider.sqlite3"

    def __init__(self, service_db_path: str) -> None:
        self.db_path = str(Path(service_db_path).with_name(self.FILE_NAME))
        self._local = threading.local()
        self._write = threading.Lock()  # one writer at a time: no waiting in SQLite's busy loop

    @property
    def db(self) -> Database:
        if not hasattr(self._local, "db"):
            # A stand-in for someone else's books: kept across crashes of the service (WAL), not
            # fsynced on every charge, so that it does not compete with the journal for the disk.
            self._local.db = Database(self.db_path, durable=False)
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
        with self._write, self.db.transaction() as conn:
            known = conn.execute("SELECT reference FROM provider_ledger WHERE order_id = ?"
                                 " AND kind = ?", (order_id, kind)).fetchone()
            if known:
                return known[0]  # a concurrent call for the same order got there first
            conn.execute("INSERT INTO provider_ledger VALUES (?, ?, ?, ?, ?)",
                         (order_id, kind, reference, amount, at))
        return reference

    def ledger(self, order_id: str) -> dict[str, int]:
        """How many charges and refunds the provider booked for an order."""
        rows = self.db.execute("SELECT kind, COUNT(*) FROM provider_ledger WHERE order_id = ?"
                               " GROUP BY kind", (order_id,))
        return dict(rows.fetchall())

    def charges(self, order_id: str) -> int:
        """How many times the order was charged (0 or 1); for checks and tests."""
        return self.db.execute("SELECT COUNT(*) FROM provider_ledger WHERE order_id = ?"
                               " AND kind = 'charge'", (order_id,)).fetchone()[0]
