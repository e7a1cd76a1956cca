"""The read model (CQRS): order views, my page, store queues, deliveries, notifications."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from .. import codec
from ..domain import order
from ..domain.geo import EARTH_RADIUS_KM, Location, distance_km
from ..domain.order import OrderState
from .db import Database
from .journal import Journal, Record, save_checkpoint

CHECKPOINT = "projector"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ReadModel:
    """Views derived from the journal; the projector writes them, the front door reads them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writing (the projector) ------------------------------------------------------------
    def apply(self, records: Sequence[Record]) -> dict[str, OrderState]:
        """Apply journal records in one transaction with the checkpoint; the states touched."""
        touched: dict[str, OrderState] = {}
        with self.db.transaction() as conn:
            for rec in records:
                oid = rec.event.order_id
                state = touched.get(oid) or self.state(oid)
                if state is not None and state.version >= rec.event.version:
                    continue  # already projected: a replay after a crash
                touched[oid] = order.evolve(state, rec.event)
            for state in touched.values():
                self._write(conn, state)
            if records:
                save_checkpoint(conn, CHECKPOINT, records[-1].seq)
        return touched

    def state(self, order_id: str) -> OrderState | None:
        """The projected state of an order, or None."""
        row = self.db.execute("SELECT state FROM order_views WHERE id = ?", (order_id,)).fetchone()
        return codec.decode(row[0]) if row else None

    @staticmethod
    def _write(conn, s: OrderState) -> None:
        conn.execute(
            "INSERT INTO order_views VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
            " payment_status = excluded.payment_status, rider_id = excluded.rider_id,"
            " updated_at = excluded.updated_at, version = excluded.version,"
            " state = excluded.state, view = excluded.view",
            (s.id, s.customer_id, s.store_id, s.status, s.payment_status, s.rider_id,
             s.delivery_address.lat, s.delivery_address.lon, s.created_at, s.updated_at, s.version,
             codec.encode(s), _json(order.view(s))))

    def catch_up(self, journal: Journal, batch: int = 1000) -> dict[str, OrderState]:
        """Project everything the journal holds beyond the checkpoint."""
        touched: dict[str, OrderState] = {}
        while True:
            records = journal.read_since(self.checkpoint(), batch)
            if not records:
                return touched
            touched.update(self.apply(records))

    def rebuild(self, journal: Journal) -> int:
        """Throw the views away and project the whole journal again; returns the orders built."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM order_views")
            save_checkpoint(conn, CHECKPOINT, 0)
        self.catch_up(journal)
        return self.db.execute("SELECT COUNT(*) FROM order_views").fetchone()[0]

    def checkpoint(self) -> int:
        row = self.db.execute("SELECT seq FROM checkpoints WHERE name = ?", (CHECKPOINT,)).fetchone()
        return row[0] if row else 0

    # -- reading (the front door) -----------------------------------------------------------
    def view_json(self, order_id: str) -> str | None:
        row = self.db.execute("SELECT view FROM order_views WHERE id = ?", (order_id,)).fetchone()
        return row[0] if row else None

    def view(self, order_id: str) -> dict[str, Any] | None:
        text = self.view_json(order_id)
        return json.loads(text) if text else None

    def version(self, order_id: str) -> int:
        row = self.db.execute("SELECT version FROM order_views WHERE id = ?", (order_id,)).fetchone()
        return row[0] if row else 0

    def customer_orders(self, customer_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """My page: a customer's orders, newest first."""
        return self._views("SELECT view FROM order_views WHERE customer_id = ?"
                           " ORDER BY created_at DESC, id DESC LIMIT ?", (customer_id, limit))

    def store_orders(self, store_id: str, status: str | None = None,
                     limit: int = 200) -> list[dict[str, Any]]:
        """A store's queue, oldest first, optionally of one status."""
        if status is None:
            return self._views("SELECT view FROM order_views WHERE store_id = ?"
                               " ORDER BY created_at, id LIMIT ?", (store_id, limit))
        return self._views("SELECT view FROM order_views WHERE store_id = ? AND status = ?"
                           " ORDER BY created_at, id LIMIT ?", (store_id, status, limit))

    def available_deliveries(self, rider: Location, radius_km: float) -> list[tuple[float, dict]]:
        """Cooked, unpicked orders within the radius of the rider: (distance, view), nearest first."""
        dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
        dlon = dlat / max(0.01, math.cos(math.radians(rider.lat)))
        rows = self.db.execute(
            "SELECT lat, lon, view FROM order_views WHERE status = ? AND rider_id IS NULL"
            " AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?",
            (order.COOKED, rider.lat - dlat, rider.lat + dlat, rider.lon - dlon, rider.lon + dlon))
        found = []
        for lat, lon, text in rows:
            d = distance_km(rider, Location(lat, lon))
            if d <= radius_km:
                found.append((d, json.loads(text)))
        return sorted(found, key=lambda pair: pair[0])

    def refund_pending(self) -> list[str]:
        """Orders whose refund has not been made yet."""
        rows = self.db.execute("SELECT id FROM order_views WHERE payment_status = ?",
                               (order.REFUND_PENDING,))
        return [r[0] for r in rows]

    def orders_by_status(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM order_views GROUP BY status")
        counts = dict.fromkeys(order.STATUSES, 0)
        counts.update(dict(rows.fetchall()))
        return counts

    def notifications(self, recipient_kind: str, recipient_id: str,
                      limit: int = 200) -> list[dict[str, Any]]:
        """A person's notifications, newest first."""
        # With the webhook channel on, a notice is delivered once the webhook took it.
        rows = self.db.execute(
            "SELECT n.id, n.order_id, n.kind, n.text, n.at, COALESCE(d.channel, n.channel),"
            " CASE WHEN d.notice_id IS NULL THEN n.delivered ELSE d.delivered_at IS NOT NULL END"
            " FROM notifications n LEFT JOIN deliveries d ON d.notice_id = n.id"
            " WHERE n.recipient_kind = ? AND n.recipient_id = ? ORDER BY n.seq DESC LIMIT ?",
            (recipient_kind, recipient_id, limit))
        return [{"id": r[0], "order_id": r[1], "kind": r[2], "text": r[3], "at": r[4],
                 "channel": r[5], "delivered": bool(r[6])} for r in rows]

    def store_inbox(self, store_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """What store management received, in the order it received it (oldest first)."""
        rows = self.db.execute("SELECT order_id, kind, seq, received_at FROM store_inbox"
                               " WHERE store_id = ? ORDER BY seq LIMIT ?", (store_id, limit))
        return [{"order_id": r[0], "kind": r[1], "seq": r[2], "received_at": r[3]} for r in rows]

    def notification_stats(self) -> dict[str, int]:
        """Notices sent; pending (events the notifier has not reached, webhook messages not yet
        taken); failed (webhook messages whose last attempt failed; they are retried)."""
        logged = self.db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0]
        queued, failed, delivered = self.db.execute(
            "SELECT COALESCE(SUM(delivered_at IS NULL), 0),"
            " COALESCE(SUM(delivered_at IS NULL AND attempts > 0), 0),"
            " COALESCE(SUM(delivered_at IS NOT NULL), 0) FROM deliveries").fetchone()
        behind = self.lag("notifier")
        sent = delivered if queued + delivered else logged
        return {"sent": sent, "pending": queued + behind, "failed": failed}

    def outbox_stats(self) -> dict[str, int]:
        """What the journal still owes its consumers: the outbox, seen from the operator's side."""
        store_pending = self.db.execute(
            "SELECT COUNT(*) FROM events e WHERE e.kind IN ('OrderPaid', 'OrderCancelled',"
            " 'RefundCompleted') AND e.seq > COALESCE((SELECT seq FROM checkpoints"
            " WHERE name = 'store:' || e.store_id), 0)").fetchone()[0]
        webhook_pending, webhook_failed = self.db.execute(
            "SELECT COALESCE(SUM(delivered_at IS NULL), 0),"
            " COALESCE(SUM(delivered_at IS NULL AND attempts > 0), 0) FROM deliveries").fetchone()
        refunds = self.db.execute("SELECT COUNT(*) FROM order_views WHERE payment_status = ?",
                                  (order.REFUND_PENDING,)).fetchone()[0]
        return {"projector_pending": self.lag("projector"), "notifier_pending": self.lag("notifier"),
                "store_deliveries_pending": store_pending, "refunds_pending": refunds,
                "webhook_pending": webhook_pending, "webhook_failed": webhook_failed}

    def lag(self, consumer: str) -> int:
        """Journal events a consumer has not processed yet."""
        return self.db.execute(
            "SELECT COUNT(*) FROM events WHERE seq > COALESCE((SELECT seq FROM checkpoints"
            " WHERE name = ?), 0)", (consumer,)).fetchone()[0]

    def _views(self, sql: str, params: tuple) -> list[dict[str, Any]]:
        return [json.loads(text) for (text,) in self.db.execute(sql, params)]
