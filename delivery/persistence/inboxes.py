"""Store inboxes: what store management received, each entry once and in journal order
(table `store_inbox`). The store actor writes here; the front door and the console read here."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import events as e
from . import checkpoints
from .db import Database
from .journal import Journal, Record

SCHEMA = """
CREATE TABLE IF NOT EXISTS store_inbox (
    store_id TEXT NOT NULL, order_id TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL,
    received_at TEXT NOT NULL, PRIMARY KEY (store_id, order_id, kind));
"""

NEW_ORDER, CANCELLED, REFUNDED = "new_order", "cancelled", "refunded"
ENTRY_KINDS = {e.OrderPaid: NEW_ORDER, e.OrderCancelled: CANCELLED, e.RefundCompleted: REFUNDED}
"""Which journal events reach store management, and the inbox entry each one becomes."""
EVENT_KINDS = tuple(t.__name__ for t in ENTRY_KINDS)
"""The journal kinds of those events."""


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


def concerns_store(record: Record) -> bool:
    """Whether a journal record is one that store management must receive."""
    return type(record.event) in ENTRY_KINDS


class StoreInboxes:
    """Every store's inbox, fed from the journal past the store's checkpoint."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.journal = Journal(db)

    def due(self, store_id: str, limit: int = 1000) -> list[Record]:
        """The store's inbox events after its checkpoint, oldest first."""
        after = checkpoints.position(self.db, checkpoints.store_inbox(store_id))
        return self.journal.read_store_since(store_id, after, EVENT_KINDS, limit)

    def receive(self, store_id: str, records: Sequence[Record], at: str) -> None:
        """Put records in the inbox and move the checkpoint, in one transaction; a record already
        received is not received twice. A cancellation or refund concerns the store only if the
        paid order reached it."""
        with self.db.transaction() as conn:
            for rec in records:
                if isinstance(rec.event, e.OrderPaid) or _has_order(conn, store_id, rec.event.order_id):
                    conn.execute("INSERT INTO store_inbox VALUES (?, ?, ?, ?, ?)"
                                 " ON CONFLICT DO NOTHING",
                                 (store_id, rec.event.order_id, ENTRY_KINDS[type(rec.event)],
                                  rec.seq, at))
            if records:
                checkpoints.save(conn, checkpoints.store_inbox(store_id), records[-1].seq)

    def entries(self, store_id: str, limit: int = 500, after: int = 0) -> list[dict[str, Any]]:
        """What store management received after journal position `after`, in the order it
        received it (oldest first)."""
        rows = self.db.execute("SELECT order_id, kind, seq, received_at FROM store_inbox"
                               " WHERE store_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                               (store_id, after, limit))
        return [{"order_id": r[0], "kind": r[1], "seq": r[2], "received_at": r[3]} for r in rows]

    def rows(self) -> list[InboxRow]:
        """Every store's inbox in the order of receipt (rows are only ever appended)."""
        rows = self.db.execute("SELECT store_id, order_id, kind, seq, received_at FROM store_inbox"
                               " ORDER BY rowid")
        return [InboxRow(*row) for row in rows]

    def stores_behind(self) -> list[str]:
        """Stores whose inbox has journal events it has not received (an index range per store:
        only the events past each checkpoint are looked at)."""
        marks = ",".join("?" * len(EVENT_KINDS))
        rows = self.db.execute(
            "SELECT s.id FROM stores s WHERE EXISTS (SELECT 1 FROM events e WHERE e.store_id = s.id"
            " AND e.seq > COALESCE((SELECT seq FROM checkpoints WHERE name = ? || s.id), 0)"
            f" AND e.kind IN ({marks})) ORDER BY s.id",
            (checkpoints.STORE_INBOX_PREFIX, *EVENT_KINDS))
        return [row[0] for row in rows]

    def pending_by_store(self) -> dict[str, int]:
        """Inbox events not received yet, per store that has any."""
        marks = ",".join("?" * len(EVENT_KINDS))
        return dict(self.db.execute(
            f"SELECT e.store_id, COUNT(*) FROM events e WHERE e.kind IN ({marks}) AND e.seq >"
            " COALESCE((SELECT seq FROM checkpoints WHERE name = ? || e.store_id), 0)"
            " GROUP BY e.store_id", (*EVENT_KINDS, checkpoints.STORE_INBOX_PREFIX)).fetchall())

    def pending(self) -> int:
        """Inbox events of every store that their store has not received yet."""
        marks = ",".join("?" * len(EVENT_KINDS))
        return self.db.execute(
            f"SELECT COUNT(*) FROM events e WHERE e.kind IN ({marks}) AND e.seq > COALESCE("
            "(SELECT seq FROM checkpoints WHERE name = ? || e.store_id), 0)",
            (*EVENT_KINDS, checkpoints.STORE_INBOX_PREFIX)).fetchone()[0]


def _has_order(conn: sqlite3.Connection, store_id: str, order_id: str) -> bool:
    return conn.execute("SELECT 1 FROM store_inbox WHERE store_id = ? AND order_id = ?"
                        " AND kind = ?", (store_id, order_id, NEW_ORDER)).fetchone() is not None
