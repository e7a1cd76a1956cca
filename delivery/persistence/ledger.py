"""The simulated payment provider's books (table `provider_ledger`, in a file of its own beside
the service's: a real provider's books are not the service's)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS provider_ledger (
    order_id TEXT NOT NULL, kind TEXT NOT NULL, reference TEXT NOT NULL, amount INTEGER NOT NULL,
    at TEXT NOT NULL, PRIMARY KEY (order_id, kind));
"""

CHARGE, REFUND = "charge", "refund"


@dataclass(frozen=True)
class LedgerRow:
    """A charge or refund in the payment provider's own books."""

    order_id: str
    """The provider's idempotency key: the order id."""
    kind: str
    """"charge" or "refund"."""
    reference: str
    """The provider's id of the charge or refund."""
    amount: int
    """Won."""
    at: str
    """When the provider booked it."""


class ProviderLedger:
    """Charges and refunds booked, at most one of each per order (the order id is the key)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def reference(self, order_id: str, kind: str) -> str | None:
        """The reference of the order's charge or refund, or None if none was booked."""
        row = self.db.execute("SELECT reference FROM provider_ledger WHERE order_id = ? AND kind = ?",
                              (order_id, kind)).fetchone()
        return row[0] if row else None

    def book(self, order_id: str, kind: str, amount: int, at: str) -> str:
        """Book a charge or refund once; a concurrent booking that got there first wins."""
        reference = f"{'pay' if kind == CHARGE else 're'}_{uuid.uuid4().hex[:16]}"
        with self.db.transaction() as conn:
            known = conn.execute("SELECT reference FROM provider_ledger WHERE order_id = ?"
                                 " AND kind = ?", (order_id, kind)).fetchone()
            if known:
                return known[0]
            conn.execute("INSERT INTO provider_ledger VALUES (?, ?, ?, ?, ?)",
                         (order_id, kind, reference, amount, at))
        return reference

    def charges_since(self, rowid: int, limit: int) -> list[tuple[int, str, str, int]]:
        """(rowid, order id, reference, amount) of charges booked after `rowid`, oldest first."""
        return self.db.execute("SELECT rowid, order_id, reference, amount FROM provider_ledger"
                               " WHERE kind = ? AND rowid > ? ORDER BY rowid LIMIT ?",
                               (CHARGE, rowid, limit)).fetchall()

    def counts(self, order_id: str) -> dict[str, int]:
        """How many charges and refunds were booked for an order."""
        rows = self.db.execute("SELECT kind, COUNT(*) FROM provider_ledger WHERE order_id = ?"
                               " GROUP BY kind", (order_id,))
        return dict(rows.fetchall())

    def rows(self) -> list[LedgerRow]:
        """Every booking, oldest first (for the audit)."""
        rows = self.db.execute("SELECT order_id, kind, reference, amount, at FROM provider_ledger"
                               " ORDER BY at")
        return [LedgerRow(*row) for row in rows]
