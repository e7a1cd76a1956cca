"""The event journal: every order's events with a global sequence, the source of truth."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from .. import codec
from ..domain.events import Event
from ..domain.refusal import Refusal
from .db import PROCESS_TAG, Database

# Every index of the journal is written on every append, and each one keyed at random (an order,
# a customer) is a page of its own in the commit's WAL: the journal keeps only those a query
# needs. event_id is "<order_id>:<version>" (domain/order.py), so UNIQUE (order_id, version)
# makes it unique too; the unpaid-orders count (`unpaid_orders`) reads only OrderPlaced events
# by customer, so only those are indexed by customer. A journal of an earlier version keeps
# event_id's index (SQLite cannot drop a constraint's index without rebuilding the table); its
# index by customer is replaced by the partial one when it is opened.
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL, version INTEGER NOT NULL,
    customer_id TEXT NOT NULL, store_id TEXT NOT NULL,
    kind TEXT NOT NULL, event_id TEXT NOT NULL, at TEXT NOT NULL, body BLOB NOT NULL,
    UNIQUE (order_id, version));
CREATE INDEX IF NOT EXISTS events_by_store ON events (store_id, seq);
DROP INDEX IF EXISTS events_by_customer;
CREATE INDEX IF NOT EXISTS events_placed_by_customer ON events (customer_id, at)
    WHERE kind = 'OrderPlaced';
"""

EVENTS_CHANNEL = "delivery_events"
"""PostgreSQL channel told of every commit of journal events; the payload names the process."""

Check = Callable[[sqlite3.Connection], Refusal | None]
"""A rule checked inside the append's transaction, against what is committed (see `Refused`)."""


_INSERT_EVENTS = ("INSERT INTO events (order_id, version, customer_id, store_id, kind, event_id, at,"
                  " body) VALUES ")
_ROW = "(?, ?, ?, ?, ?, ?, ?, ?)"


class ConcurrencyConflict(Exception):
    """Another writer appended to the same order first; reload and decide again."""


class Refused(Exception):
    """A check made inside the append's transaction refused it; nothing was written."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


@dataclass(frozen=True)
class Record:
    """An event as stored, with its global sequence number and the order's parties."""

    seq: int
    """Global position in the journal."""
    customer_id: str
    """The order's customer."""
    store_id: str
    """The order's store."""
    event: Event
    """The event itself."""


class Journal:
    """Append-only store of order events in the service's SQLite file."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, events: Sequence[Event], customer_id: str, store_id: str,
               grouped: bool = False, check: Check | None = None) -> int:
        """Commit the events of one command durably; returns the last global sequence
        (`append_records` tells the records written)."""
        return self.append_records(events, customer_id, store_id, grouped, check)[-1].seq

    def append_records(self, events: Sequence[Event], customer_id: str, store_id: str,
                       grouped: bool = False, check: Check | None = None) -> list[Record]:
        """Commit the events of one command durably; returns them as journal records.

        grouped: join the connection's group commit instead; durable at `Database.flush()`.
        check: a rule that sees the journal under the write lock (SQLite has one writer), so two
        appends can't both pass it on the same stale count; a refusal raises `Refused`.
        """
        params = [value for ev in events
                  for value in (ev.order_id, ev.version, customer_id, store_id, type(ev).__name__,
                                ev.event_id, ev.at, codec.encode(ev))]
        # One statement for all the command's events, answering their sequence numbers: it
        # succeeds or fails whole, so the group commit needs no savepoint around it on SQLite.
        sql = _INSERT_EVENTS + ", ".join([_ROW] * len(events)) + " RETURNING seq"
        notified = False
        try:
            with self.db.grouped(atomic=True) if grouped else self.db.transaction() as conn:
                refusal = check(conn) if check else None
                if refusal:
                    raise Refused(refusal)
                seqs = sorted(row[0] for row in conn.execute(sql, params).fetchall())
                if self.db.dialect == "postgresql" and (
                        not grouped or self.db.notified_group != self.db.group_gen):
                    # Sent at commit, so the other nodes' consumers hear of the events at once,
                    # not at their next poll; once a transaction (a group's later parts need
                    # not say it again: one round trip each saved).
                    conn.execute(f"NOTIFY {EVENTS_CHANNEL}, '{PROCESS_TAG}'")
                    notified = True
                # Rows are numbered in the order they are given (one statement, one writer).
                records = [Record(seq, customer_id, store_id, ev)
                           for seq, ev in zip(seqs, events, strict=True)]
                if grouped:
                    self.db.group_records.extend(records)
            if notified and grouped:  # only once the part holding the NOTIFY is kept
                self.db.notified_group = self.db.group_gen
            return records
        except self.db.integrity_errors as exc:
            raise ConcurrencyConflict(str(exc)) from exc

    @staticmethod
    def unpaid_orders(conn: sqlite3.Connection, customer_id: str, placed_since: str) -> int:
        """A customer's orders placed since then and neither paid nor cancelled. Older ones are
        the guardian's to expire; leaving them out keeps this count to a few index lookups (the
        partial index `events_placed_by_customer`: the `kind = 'OrderPlaced'` below must stay
        written as it is for SQLite to use it)."""
        return conn.execute(
            "SELECT COUNT(*) FROM events p WHERE p.customer_id = ? AND p.kind = 'OrderPlaced'"
            " AND p.at > ? AND NOT EXISTS (SELECT 1 FROM events q WHERE q.order_id = p.order_id"
            " AND q.kind IN ('OrderPaid', 'OrderCancelled'))", (customer_id, placed_since)
        ).fetchone()[0]

    def load(self, order_id: str, after: int = 0) -> list[Event]:
        """The events of one order in version order (those after version `after`)."""
        cur = self.db.execute("SELECT body FROM events WHERE order_id = ? AND version > ?"
                              " ORDER BY version", (order_id, after))
        return [codec.decode(body) for (body,) in cur]

    def read_since(self, seq: int, limit: int = 1000) -> list[Record]:
        """Records after a global sequence number, oldest first."""
        cur = self.db.execute("SELECT seq, customer_id, store_id, body FROM events WHERE seq > ?"
                              " ORDER BY seq LIMIT ?", (seq, limit))
        return [Record(s, c, st, codec.decode(b)) for s, c, st, b in cur]

    def watched_since(self, seq: int, order_ids: Collection[str],
                      limit: int = 1000) -> tuple[int, list[Event]]:
        """One query for every watcher: the events after `seq` of the orders in `order_ids`
        (only those are decoded), and the sequence number read up to."""
        rows = self.db.execute("SELECT seq, order_id, body FROM events WHERE seq > ?"
                               " ORDER BY seq LIMIT ?", (seq, limit)).fetchall()
        events = [codec.decode(body) for _, order_id, body in rows if order_id in order_ids]
        return (rows[-1][0] if rows else seq), events

    def read_store_since(self, store_id: str, seq: int, kinds: Sequence[str],
                         limit: int = 1000) -> list[Record]:
        """One store's records of the given kinds after a global sequence number."""
        marks = ",".join("?" * len(kinds))
        cur = self.db.execute(
            f"SELECT seq, customer_id, store_id, body FROM events WHERE store_id = ? AND seq > ?"
            f" AND kind IN ({marks}) ORDER BY seq LIMIT ?", (store_id, seq, *kinds, limit))
        return [Record(s, c, st, codec.decode(b)) for s, c, st, b in cur]

    def head(self) -> int:
        """The highest global sequence number (0 when empty)."""
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def stats(self) -> dict[str, int]:
        """Number of events and bytes of their bodies."""
        n, size = self.db.execute("SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(body)), 0) AS BIGINT)"
                                  " FROM events").fetchone()
        return {"events": n, "bytes": size}

    def counts_by_kind(self) -> dict[str, int]:
        """How many events of each kind the journal holds (the console derives rates from it)."""
        return dict(self.db.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())

    def records_of(self, order_id: str) -> list[Record]:
        """One order's records with their global sequence numbers."""
        cur = self.db.execute("SELECT seq, customer_id, store_id, body FROM events"
                              " WHERE order_id = ? ORDER BY version", (order_id,))
        return [Record(s, c, st, codec.decode(b)) for s, c, st, b in cur]
