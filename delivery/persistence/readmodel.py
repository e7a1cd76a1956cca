"""The read model (CQRS): order views (table `order_views`): an order, my page, a store's queue,
the deliveries a rider may pick; the read side of notices and inboxes for the front door."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, TypeVar

import orjson

from .. import codec
from ..domain import order
from ..domain.geo import Location, bounding_box, haversine_km
from ..domain.order import OrderState
from ..jsontext import dumps
from . import checkpoints
from .db import Database, insert_rows, marking_triggers
from .inboxes import StoreInboxes
from .journal import Journal, Record
from .notices import Notices
from .outbox import WebhookOutbox

K, V = TypeVar("K"), TypeVar("V")

VIEWS_KEPT = 20_000
"""Order views the front door remembers (`parties_and_view`): the orders being followed now,
~1-2 KB each."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS order_views (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, store_id TEXT NOT NULL, status TEXT NOT NULL,
    payment_status TEXT NOT NULL, rider_id TEXT, lat REAL NOT NULL, lon REAL NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, version INTEGER NOT NULL,
    state BLOB NOT NULL, view TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS order_views_by_customer ON order_views (customer_id, created_at);
CREATE INDEX IF NOT EXISTS order_views_by_store ON order_views (store_id, status, created_at);
CREATE INDEX IF NOT EXISTS order_views_by_status ON order_views (status, payment_status);
CREATE INDEX IF NOT EXISTS order_views_waiting ON order_views (status, lat, lon)
    WHERE status = 'cooked' AND rider_id IS NULL;
""" + marking_triggers("order_views")
# The triggers (SQLite) report every view written or deleted to its connection, which marks it
# once committed: the front door remembers the views it read by those marks (`parties_and_view`),
# as it does token holders (directory.py). A connection that cannot mark (the sqlite3 shell) is
# refused any write to the views; `ReadModel.rebuild` (through the service) redoes them.
# order_views_waiting: the orders a rider may pick, by place (`available_deliveries`). Partial,
# so that it holds only those (an entry made when an order is cooked, gone when it is picked)
# and a rider's list reads the band of latitude around it, not every cooked order in the city.
# Its 'cooked' must be spelled out in the query too (a bound parameter cannot tell a planner
# that a partial index applies); tests/integration/test_schema.py checks the plan.


# `order.COOKED` spelled out, for order_views_waiting (test_schema.py holds the two together).
_AVAILABLE = ("SELECT v.id, v.lat, v.lon, s.id, s.name, s.lat, s.lon FROM order_views v"
              " LEFT JOIN stores s ON s.id = v.store_id"
              " WHERE v.status = 'cooked' AND v.rider_id IS NULL"
              " AND v.lat BETWEEN ? AND ? AND v.lon BETWEEN ? AND ?")

# The store's work in the order it has to be done: what waits for its answer first.
_STORE_PRIORITY = "CASE status " + " ".join(
    f"WHEN '{status}' THEN {rank}" for rank, status in enumerate(
        (order.PAID, order.ACCEPTED, order.COOKING, order.COOKED, order.PICKED_UP))) + " ELSE 9 END"


class Recent(OrderedDict[K, V]):
    """The last `bound` entries kept (order states, areas), least recently kept dropped first."""

    def __init__(self, bound: int) -> None:
        super().__init__()
        self.bound = bound

    def keep(self, entries: dict[K, V]) -> None:
        for key, value in entries.items():
            self[key] = value
            self.move_to_end(key)
        while len(self) > self.bound:
            self.popitem(last=False)


class ReadModel:
    """Views derived from the journal; the projector writes them, the front door reads them."""

    def __init__(self, db: Database, remember: int = 0) -> None:
        self.db = db
        # The projector, the only writer of the views while it holds its lease, remembers the
        # states it last wrote, so applying an event needs no read of the view first. Whoever
        # may have written behind its back (another node before a lease change, a rebuild)
        # calls `forget()`.
        self.remember = remember
        self.states: Recent[str, OrderState] = Recent(remember)
        # The front door: order id -> (what `parties_and_view` read, its change marks), SQLite
        # only; at most VIEWS_KEPT, the one read from the database longest ago dropped first.
        self._shown: dict[str, tuple[tuple[tuple[str, str, str | None], str],
                                     tuple[int, int, int]]] = {}

    # -- writing (the projector) ------------------------------------------------------------
    def apply(self, records: Sequence[Record]) -> dict[str, OrderState]:
        """Apply journal records in one transaction with the checkpoint; the states touched."""
        with self.db.transaction() as conn:
            touched = self.evolved(records)
            self.save(conn, touched, records)
        self.keep(touched)  # only once committed: a failed write leaves the views as they were
        return touched

    def evolved(self, records: Sequence[Record]) -> dict[str, OrderState]:
        """The orders' states after these records (reading a view only if its state is not
        remembered), those already projected left out."""
        touched: dict[str, OrderState] = {}
        for rec in records:
            oid = rec.event.order_id
            state = touched.get(oid) or self._known_state(oid, rec.event.version)
            if state is not None and state.version >= rec.event.version:
                continue  # already projected: a replay after a crash
            touched[oid] = order.evolve(state, rec.event)
        return touched

    def save(self, conn: Any, touched: dict[str, OrderState], records: Sequence[Record]) -> None:
        """Write these states and move the checkpoint past the records, in the caller's
        transaction (which may be the journal's own group commit); `keep` them once committed."""
        self._write(conn, list(touched.values()))
        if records:
            checkpoints.save(conn, checkpoints.PROJECTOR, records[-1].seq)

    def keep(self, touched: dict[str, OrderState]) -> None:
        """Remember the states a committed `write` left in the views."""
        if self.remember:
            self.states.keep(touched)

    def _known_state(self, order_id: str, version: int) -> OrderState | None:
        """The view's state before event `version`: remembered if it is the one just before."""
        state = self.states.get(order_id)
        if state is not None and state.version == version - 1:
            return state
        if version == 1 and self.remember:
            return None  # a new order (were it projected already, the guarded upsert keeps it)
        return self.state(order_id)

    def forget(self) -> None:
        """Drop the remembered states: the views may have been written by someone else."""
        self.states.clear()

    def state(self, order_id: str) -> OrderState | None:
        """The projected state of an order, or None."""
        row = self.db.execute("SELECT state FROM order_views WHERE id = ?", (order_id,)).fetchone()
        return codec.decode(row[0]) if row else None

    @staticmethod
    def _write(conn, states: Sequence[OrderState]) -> None:
        """Upsert the views of these orders (each named once), in one statement."""
        if not states:
            return
        insert_rows(
            conn, "INSERT INTO order_views",
            [(s.id, s.customer_id, s.store_id, s.status, s.payment_status, s.rider_id,
              s.delivery_address.lat, s.delivery_address.lon, s.created_at, s.updated_at,
              s.version, codec.encode(s), ReadModel.summary(s)[4]) for s in states],
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
            " payment_status = excluded.payment_status, rider_id = excluded.rider_id,"
            " updated_at = excluded.updated_at, version = excluded.version,"
            " state = excluded.state, view = excluded.view"
            " WHERE order_views.version < excluded.version")  # never back: nodes project alike

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
        self.forget()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM order_views")
            checkpoints.save(conn, checkpoints.PROJECTOR, 0)
        self.catch_up(journal)
        return self.db.execute("SELECT COUNT(*) FROM order_views").fetchone()[0]

    def checkpoint(self) -> int:
        return checkpoints.position(self.db, checkpoints.PROJECTOR)

    # -- reading (the front door) -----------------------------------------------------------
    def view_json(self, order_id: str) -> str | None:
        row = self.db.execute("SELECT view FROM order_views WHERE id = ?", (order_id,)).fetchone()
        return row[0] if row else None

    def parties_and_view(self, order_id: str) -> tuple[tuple[str, str, str | None], str] | None:
        """((customer, store, rider), view JSON) of an order, or None: who may read it and what
        they read, in one lookup and without decoding its state.

        On SQLite the answer is remembered with the change marks of the order's view, taken
        before the view was read (marks.py): while they are unchanged no process has written
        the view since, so it is answered from memory. Whoever writes a view marks it after its
        COMMIT and before its reply, so a read after a command's reply never gets the view from
        before it. On PostgreSQL (nodes on other hosts) the view is read every time."""
        marks = self.db.marks
        if marks is not None:
            shown = self._shown.get(order_id)
            if shown is not None and marks.fresh(shown[1]):
                return shown[0]
            stamp = marks.stamp(order_id)  # before the view is read
        row = self.db.execute("SELECT customer_id, store_id, rider_id, view FROM order_views"
                              " WHERE id = ?", (order_id,)).fetchone()
        if marks is None:
            return None if row is None else ((row[0], row[1], row[2]), row[3])
        shown = self._shown
        shown.pop(order_id, None)  # read again: kept last (a view that changes is being followed)
        if row is None:
            return None
        found = ((row[0], row[1], row[2]), row[3])
        if len(shown) >= VIEWS_KEPT:
            del shown[next(iter(shown))]  # the one read longest ago
        shown[order_id] = (found, stamp)
        return found

    def view(self, order_id: str) -> dict[str, Any] | None:
        text = self.view_json(order_id)
        return json.loads(text) if text else None

    def customer_orders(self, customer_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """My page: a customer's orders, newest first."""
        return self._views("SELECT view FROM order_views WHERE customer_id = ?"
                           " ORDER BY created_at DESC, id DESC LIMIT ?", (customer_id, limit))

    def store_orders(self, store_id: str, status: str | None = None,
                     limit: int = 200) -> list[dict[str, Any]]:
        """A store's queue: with no status, the orders it has to act on first (paid, waiting for
        an answer), then the next steps in order, the finished ones last, each oldest first.
        Orders never paid (placed, or cancelled or expired unpaid) are the customer's business
        and are shown only when asked for by status (?status=placed)."""
        if status is None:
            return self._views(
                f"SELECT view FROM order_views WHERE store_id = ? AND payment_status != ?"
                f" ORDER BY {_STORE_PRIORITY}, created_at, id LIMIT ?",
                (store_id, order.UNPAID, limit))
        return self._views("SELECT view FROM order_views WHERE store_id = ? AND status = ?"
                           " ORDER BY created_at, id LIMIT ?", (store_id, status, limit))

    def available_deliveries(self, rider: Location, radius_km: float
                             ) -> list[tuple[float, str, str | None, str, float, float]]:
        """Cooked, unpicked orders within the radius of the rider, nearest first, each with its
        store read in the same lookup, as rows (distance, order id, store id, name, lat, lon):
        no object made, and not the view (a rider's list shows an area, not the order).

        This is `domain.order.visible_to_rider` in SQL (a bounding box narrows, the distance
        decides); tests/integration/test_rider_visibility.py holds the two together."""
        rows = self.db.execute(_AVAILABLE, bounding_box(rider, radius_km))
        lat, lon = rider.lat, rider.lon
        found = []
        for oid, olat, olon, sid, name, slat, slon in rows:
            d = haversine_km(lat, lon, olat, olon)
            if d <= radius_km:
                found.append((d, oid, sid, name, slat, slon))
        found.sort(key=itemgetter(0))
        return found

    def unpaid_before(self, placed_before: str, limit: int = 500) -> list[str]:
        """Orders placed before then and still waiting for payment, oldest first."""
        rows = self.db.execute("SELECT id FROM order_views WHERE status = ? AND payment_status = ?"
                               " AND created_at <= ? ORDER BY created_at LIMIT ?",
                               (order.PLACED, order.UNPAID, placed_before, limit))
        return [r[0] for r in rows]

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

    @staticmethod
    def summary(s: OrderState) -> tuple[str, str, str | None, int, str]:
        """(status, payment_status, rider_id, version, view JSON): what the projector writes of
        an order's state, as `rows` reads it back."""
        return s.status, s.payment_status, s.rider_id, s.version, dumps(order.view(s))

    def rows(self) -> dict[str, tuple[str, str, str | None, int, str]]:
        """Order id -> (status, payment_status, rider_id, version, view JSON) of every view."""
        rows = self.db.execute("SELECT id, status, payment_status, rider_id, version, view"
                               " FROM order_views")
        return {row[0]: tuple(row[1:]) for row in rows}

    def notifications(self, recipient_kind: str, recipient_id: str,
                      limit: int = 200) -> list[dict[str, Any]]:
        """A person's notifications, newest first (kept by `notices`)."""
        return Notices(self.db).of(recipient_kind, recipient_id, limit)

    def store_inbox(self, store_id: str, limit: int = 500, after: int = 0) -> list[dict[str, Any]]:
        """What store management received after position `after`, oldest first (kept by
        `inboxes`)."""
        return StoreInboxes(self.db).entries(store_id, limit, after)

    def notification_stats(self) -> dict[str, int]:
        """Notices sent, pending and failed (see `notices.Notices.stats`)."""
        return Notices(self.db).stats()

    def outbox_stats(self) -> dict[str, int]:
        """What the journal still owes its consumers: the outbox, seen from the operator's side."""
        webhook = WebhookOutbox(self.db).stats()
        refunds = self.db.execute("SELECT COUNT(*) FROM order_views WHERE payment_status = ?",
                                  (order.REFUND_PENDING,)).fetchone()[0]
        return {"projector_pending": checkpoints.lag(self.db, checkpoints.PROJECTOR),
                "notifier_pending": checkpoints.lag(self.db, checkpoints.NOTIFIER),
                "store_inbox_pending": StoreInboxes(self.db).pending(), "refunds_pending": refunds,
                "webhook_pending": webhook["pending"], "webhook_failed": webhook["failed"]}

    def _views(self, sql: str, params: tuple) -> list[dict[str, Any]]:
        # orjson reads the views' JSON several times faster than json (pages of orders)
        return [orjson.loads(text) for (text,) in self.db.execute(sql, params)]
