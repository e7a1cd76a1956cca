"""The audit's raw SQL, in one place: plain rows of the tables the checks reconcile."""

from __future__ import annotations

from dataclasses import dataclass

from ..store.db import Database


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


@dataclass(frozen=True)
class InboxRow:
    """What one store's management received, in the order it received it."""

    store_id: str
    """The store whose inbox holds it."""
    order_id: str
    """The order it concerns."""
    kind: str
    """new_order, cancelled or refunded."""
    seq: int
    """The journal sequence number of the event it came from."""
    received_at: str
    """When the store received it."""


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


def ledger(db: Database) -> list[LedgerRow]:
    rows = db.execute("SELECT order_id, kind, reference, amount, at FROM provider_ledger"
                      " ORDER BY at")
    return [LedgerRow(*row) for row in rows]


def inbox(db: Database) -> list[InboxRow]:
    """Every store's inbox in the order of receipt (rowid: rows are only ever appended)."""
    rows = db.execute("SELECT store_id, order_id, kind, seq, received_at FROM store_inbox"
                      " ORDER BY rowid")
    return [InboxRow(*row) for row in rows]


def notices(db: Database) -> list[NoticeRow]:
    rows = db.execute("SELECT id, recipient_kind, recipient_id, order_id, kind, at"
                      " FROM notifications ORDER BY seq")
    return [NoticeRow(*row) for row in rows]


def views(db: Database) -> dict[str, tuple[str, str, str | None, int, str]]:
    """Order id -> (status, payment_status, rider_id, version, view JSON) of the read model."""
    rows = db.execute("SELECT id, status, payment_status, rider_id, version, view FROM order_views")
    return {row[0]: tuple(row[1:]) for row in rows}


def checkpoints(db: Database) -> dict[str, int]:
    return dict(db.execute("SELECT name, seq FROM checkpoints").fetchall())
