"""The simulated payment provider: approves, declines tok_declined, never charges an order twice."""

from __future__ import annotations

import threading
from pathlib import Path

from ..persistence.db import Database, is_postgres
from ..persistence.ledger import CHARGE, REFUND, ProviderLedger
from .provider import Booking, Outcome

DECLINED_TOKEN = "tok_declined"


class SimulatedProvider:
    """A provider with a ledger of its own (a separate SQLite file beside the service's, as a real
    provider's books are not the service's); safe to call from several threads."""

    FILE_NAME = "simulated-provider.sqlite3"

    def __init__(self, service_db_path: str) -> None:
        # On PostgreSQL the books are a table of the shared database: every node's simulated
        # provider is then one provider, as a real one would be.
        self.db_path = service_db_path if is_postgres(service_db_path) else \
            str(Path(service_db_path).with_name(self.FILE_NAME))
        self._local = threading.local()
        self._write = threading.Lock()  # one writer at a time: no waiting in SQLite's busy loop

    @property
    def books(self) -> ProviderLedger:
        if not hasattr(self._local, "books"):
            # A stand-in for someone else's books: kept across crashes of the service (WAL), not
            # fsynced on every charge, so that it does not compete with the journal for the disk.
            self._local.books = ProviderLedger(Database(self.db_path, durable=False))
        return self._local.books

    def charge(self, order_id: str, amount: int, card_token: str, at: str) -> Outcome:
        known = self.books.reference(order_id, CHARGE)
        if known:
            return Outcome(True, known)  # the order id is the idempotency key
        if card_token == DECLINED_TOKEN:
            return Outcome(False, "", "card declined by issuer")
        with self._write:
            return Outcome(True, self.books.book(order_id, CHARGE, amount, at))

    def refund(self, order_id: str, amount: int, at: str, payment_id: str = "",
               reason: str = "") -> Outcome:
        known = self.books.reference(order_id, REFUND)
        if known:
            return Outcome(True, known)
        with self._write:
            return Outcome(True, self.books.book(order_id, REFUND, amount, at))

    def charges_since(self, position: int, limit: int) -> list[Booking]:
        return [Booking(*row) for row in self.books.charges_since(position, limit)]

    def ledger(self, order_id: str) -> dict[str, int]:
        """How many charges and refunds the provider booked for an order."""
        return self.books.counts(order_id)

    def charges(self, order_id: str) -> int:
        """How many times the order was charged (0 or 1); for checks and tests."""
        return self.books.counts(order_id).get(CHARGE, 0)
