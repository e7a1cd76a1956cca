"""StoreActor: one per store; store management's inbox of paid orders, cancellations and refunds."""

from __future__ import annotations

from typing import Any

from .. import clock
from ..domain import events as e
from ..store.db import Database
from ..store.directory import Directory, Store
from ..store.journal import Journal, save_checkpoint
from .entity import EntityActor
from .messages import Activate, Envelope, GetStats, Nudge, RegisterStore

# What store management must receive, each exactly once and in journal order.
INBOX_KINDS = (e.OrderPaid.__name__, e.OrderCancelled.__name__, e.RefundCompleted.__name__)
INBOX_NAMES = {e.OrderPaid: "new_order", e.OrderCancelled: "cancelled", e.RefundCompleted: "refunded"}


class StoreActor(EntityActor):
    """The live store: registers itself, keeps its menu and receives its orders from the journal."""

    KIND = "store"

    def activated(self) -> None:
        self.directory = Directory(self.db)
        # The inbox is derived from the journal (with its checkpoint): no fsync of its own.
        self.inbox_db = Database.shared(self.settings["actors"]["db_path"], durable=False)
        self.journal = Journal(self.inbox_db)
        self.store = self.directory.store(self.key)
        self.received = 0
        if self.store is not None:
            self.catch_up()

    def on_register(self, envelope: Envelope, sender: Any) -> None:
        m: RegisterStore = envelope.body
        if self.store is None:
            self.store = Store(m.store_id, m.name, m.owner_phone, m.location, m.menu)
            self.directory.add_store(self.store, m.token, clock.now())
        self.reply(envelope, sender, {"id": self.store.id})

    def on_nudge(self, message: Nudge, sender: Any) -> None:
        if self.store is not None:
            self.catch_up()

    def catch_up(self) -> None:
        """Receive every inbox event after the checkpoint, in order, each exactly once."""
        name = f"store:{self.key}"
        while True:
            records = self.journal.read_store_since(self.key, self.journal.checkpoint(name),
                                                    INBOX_KINDS)
            if not records:
                return
            now = clock.now()
            with self.inbox_db.transaction() as conn:
                for rec in records:
                    if isinstance(rec.event, e.OrderPaid) or self._received(conn, rec.event.order_id):
                        conn.execute("INSERT OR IGNORE INTO store_inbox VALUES (?, ?, ?, ?, ?)",
                                     (self.key, rec.event.order_id, INBOX_NAMES[type(rec.event)],
                                      rec.seq, now))
                save_checkpoint(conn, name, records[-1].seq)
            self.received += len(records)

    def _received(self, conn, order_id: str) -> bool:
        # A cancellation concerns the store only if the paid order reached it.
        return conn.execute("SELECT 1 FROM store_inbox WHERE store_id = ? AND order_id = ?"
                            " AND kind = 'new_order'", (self.key, order_id)).fetchone() is not None

    def describe(self) -> str:
        return "unregistered" if self.store is None else f"received={self.received}"

    HANDLERS = {Activate: "on_activate", RegisterStore: "on_register", Nudge: "on_nudge",
                GetStats: "on_get_stats"}
