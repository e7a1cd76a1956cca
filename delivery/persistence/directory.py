"""Registrations: customers, stores with their menus, riders, and the hashes of their tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import NamedTuple

from .. import codec
from ..domain.geo import Location, bounding_box
from ..domain.menu import MenuItem
from ..domain.onboarding import APPROVED
from .db import Database, marking_triggers

CATALOGUE = "stores"
"""The key (change marks) of every store at once: the front door's catalogue (`stores_in_box`)."""
CATALOGUE_KEPT = 5_000
"""Approved stores the front door keeps in memory at most; with more, it asks the database. The
catalogue is read again whenever a store changes (and when another key shares its counter):
~10 ms of the event loop at 5,000 stores."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, lat REAL NOT NULL,
    lon REAL NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stores (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_phone TEXT NOT NULL, lat REAL NOT NULL,
    lon REAL NOT NULL, token_hash TEXT NOT NULL UNIQUE, menu BLOB NOT NULL, created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'approved');
CREATE TABLE IF NOT EXISTS riders (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, lat REAL, lon REAL,
    token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, located_at TEXT,
    status TEXT NOT NULL DEFAULT 'approved');
CREATE INDEX IF NOT EXISTS stores_by_place ON stores (lat, lon, id, name);
""" + "".join(marking_triggers(kind) for kind in ("customers", "stores", "riders")) + (
    marking_triggers("stores", CATALOGUE, "listed",
                     ("INSERT", "UPDATE OF id, name, lat, lon, status", "DELETE")))
# The triggers (SQLite) report every holder row written or deleted to its connection, which
# marks it once committed: the front door remembers holders by those marks (`holder_by_hash`).
# A store's row also marks CATALOGUE, the approved stores as a whole (`stores_in_box`).
# INSERT too: an INSERT OR REPLACE is a delete and an insert (and a connection that cannot mark,
# such as the sqlite3 shell, is refused any write to these tables).
# The DEFAULT is for rows of a data directory from before onboarding (see `migrate`): they keep
# working. Every registration writes its status explicitly.

KINDS = ("customers", "stores", "riders")
ONBOARDED = ("stores", "riders")


def migrate(conn) -> None:
    """Add `status` to the stores and riders of an earlier data directory; its stores and riders
    become approved, so a running deployment is not locked out by the upgrade."""
    for table in ONBOARDED:
        if _has_status(conn, table):
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not _has_status(conn, table):  # another connection may have just added it
                conn.execute(f"ALTER TABLE {table} ADD COLUMN status TEXT NOT NULL"
                             f" DEFAULT '{APPROVED}'")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _has_status(conn, table: str) -> bool:
    return any(row[1] == "status" for row in conn.execute(f"PRAGMA table_info({table})"))


def new_token() -> str:
    """An opaque bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What is stored of a token; tokens are random, so a plain SHA-256 cannot be guessed back."""
    # A header's bytes that are not UTF-8 arrive as lone surrogates: hashed as they came, such a
    # token matches nobody (401), instead of failing to encode (500).
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


HOLDERS_KEPT = 100_000  # token hashes whose holder is remembered (~500 bytes each)

# Finding a token's holder: one statement over the three tables (each searched by its unique
# index); checking a remembered one: its row by primary key. Customers have no status; a rider's
# row gives its last reported location too (its list of deliveries needs no second lookup).
# (Riders first: PostgreSQL types a UNION's columns from left to right, and NULL beside NULL
# would be text, not a number.)
_FIND = ("SELECT 'riders', id, token_hash, status, lat, lon FROM riders WHERE token_hash = ?"
         " UNION ALL SELECT 'stores', id, token_hash, status, NULL, NULL FROM stores"
         " WHERE token_hash = ?"
         " UNION ALL SELECT 'customers', id, token_hash, NULL, NULL, NULL FROM customers"
         " WHERE token_hash = ?")
_CHECK = {"customers": "SELECT token_hash, NULL, NULL, NULL FROM customers WHERE id = ?",
          "stores": "SELECT token_hash, status, NULL, NULL FROM stores WHERE id = ?",
          "riders": "SELECT token_hash, status, lat, lon FROM riders WHERE id = ?"}


def _location(lat: float | None, lon: float | None) -> Location | None:
    """A rider's reported location, or None before its first report."""
    return None if lat is None else Location(lat, lon)


class Holder(NamedTuple):  # a tuple: made on every request, cheaper than a dataclass
    """Whoever holds a bearer token, as the database says now."""

    kind: str
    """customers, stores or riders."""
    id: str
    """Its id."""
    status: str | None
    """Onboarding status of a store or rider (pending, approved, suspended); None: a customer."""
    location: Location | None = None
    """A rider's last reported location (None before the first report, and for the others)."""


@dataclass(frozen=True)
class Store:
    """A registered store."""

    id: str
    """Store id."""
    name: str
    """Shown to customers."""
    owner_phone: str
    """Where the owner's messages go."""
    location: Location
    """Where the store is."""
    menu: tuple[MenuItem, ...]
    """What it sells."""


@dataclass(frozen=True)
class StoreSummary:
    """A store as the catalogue lists it: no menu, so listing never decodes one."""

    id: str
    """Store id."""
    name: str
    """Shown to customers."""
    location: Location
    """Where the store is."""


class Directory:
    """Durable registrations in the service's SQLite file."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # token hash -> (kind, id, the holder as last read and the marks taken before, or None
        # twice); see `holder`
        self._holders: dict[str, tuple[str, str, Holder | None, tuple[int, int, int] | None]] = {}
        # SQLite: (the CATALOGUE's marks taken before it was read, the approved stores'
        # latitudes in order or None if more than CATALOGUE_KEPT, (longitude, summary) of each)
        self._catalogue: tuple[tuple[int, int, int], list[float] | None,
                               list[tuple[float, StoreSummary]]] | None = None

    def add_customer(self, id: str, name: str, phone: str, loc: Location, token: str, at: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (id, name, phone, loc.lat, loc.lon, hash_token(token), at))

    def add_store(self, store: Store, token: str, at: str, *, status: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO stores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (store.id, store.name, store.owner_phone, store.location.lat,
                          store.location.lon, hash_token(token), codec.encode(store.menu), at,
                          status))

    def add_rider(self, id: str, name: str, phone: str, loc: Location | None, token: str,
                  at: str, *, status: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO riders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (id, name, phone, loc.lat if loc else None, loc.lon if loc else None,
                          hash_token(token), at, at if loc else None, status))

    def status(self, kind: str, id: str) -> str | None:
        """A store's or rider's onboarding status (pending, approved, suspended), None if unknown."""
        if kind not in ONBOARDED:
            raise ValueError(kind)
        row = self.db.execute(f"SELECT status FROM {kind} WHERE id = ?", (id,)).fetchone()
        return row[0] if row else None

    def set_status(self, kind: str, id: str, status: str) -> dict | None:
        """Approve or suspend a store or rider; its summary afterwards, None if unknown."""
        if kind not in ONBOARDED:
            raise ValueError(kind)
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE {kind} SET status = ? WHERE id = ?", (status, id))
        return self.summary(kind, id)

    def summary(self, kind: str, id: str) -> dict | None:
        """{id, name, status, location, created_at} of a store or rider, None if unknown."""
        rows = self._summaries(kind, "WHERE id = ?", (id,))
        return rows[0] if rows else None

    def onboarding(self, kind: str, statuses: tuple[str, ...]) -> list[dict]:
        """Summaries of the stores or riders in these statuses, oldest registration first."""
        marks = ", ".join("?" * len(statuses))
        return self._summaries(kind, f"WHERE status IN ({marks}) ORDER BY created_at, id",
                               statuses)

    def _summaries(self, kind: str, where: str, args: tuple) -> list[dict]:
        if kind not in ONBOARDED:
            raise ValueError(kind)
        rows = self.db.execute(f"SELECT id, name, status, lat, lon, created_at FROM {kind} {where}",
                               args)
        return [{"id": r[0], "name": r[1], "status": r[2],
                 "location": None if r[3] is None else {"lat": r[3], "lon": r[4]},
                 "created_at": r[5]} for r in rows]

    def holder(self, token: str) -> Holder | None:
        """Who holds `token` now (a customer, a store or a rider, with its status), or None.

        Who holds a token is remembered (by its hash, never the token), so a known token costs
        one lookup by primary key instead of a search of three tables. On SQLite the holder
        itself is remembered too, with the change marks of its row taken before the row was
        read (marks.py): while they are unchanged no process has changed or deleted the row
        since, so a revoked token, a suspension or a rider's move is seen at once without
        reading the row on every request. On PostgreSQL (nodes on other hosts) the row is read
        again on every call.
        """
        return self.holder_by_hash(hash_token(token))

    def holder_by_hash(self, hashed: str) -> Holder | None:
        """`holder` of the token whose `hash_token` this is."""
        known = self._holders.get(hashed)
        marks = self.db.marks
        if known is not None:
            kind, id, held, stamp = known
            if held is not None and marks is not None and marks.fresh(stamp):
                return held
            stamp = None if marks is None else marks.stamp(id)  # before the row is read
            row = self.db.execute(_CHECK[kind], (id,)).fetchone()
            if row is not None and hmac.compare_digest(row[0], hashed):
                held = Holder(kind, id, row[1], _location(row[2], row[3]))
                if stamp is not None:
                    self._holders[hashed] = (kind, id, held, stamp)
                return held
            self._holders.pop(hashed, None)  # revoked (or gone): refused below unless it moved
        row = self.db.execute(_FIND, (hashed, hashed, hashed)).fetchone()
        if row is None or not hmac.compare_digest(row[2], hashed):
            return None
        if len(self._holders) >= HOLDERS_KEPT:
            del self._holders[next(iter(self._holders))]  # the oldest remembered
        # The holder is kept from the next call on: its marks are taken before a read by id.
        self._holders[hashed] = (row[0], row[1], None, None)
        return Holder(row[0], row[1], row[3], _location(row[4], row[5]))

    def identify(self, kind: str, token: str) -> str | None:
        """The id of the customer, store or rider holding `token`, or None."""
        if kind not in KINDS:
            raise ValueError(kind)
        found = self.holder(token)
        return found.id if found is not None and found.kind == kind else None

    def identify_any(self, token: str) -> tuple[str, str] | None:
        """(kind, id) of whoever holds `token`: a customer, a store or a rider."""
        found = self.holder(token)
        return None if found is None else (found.kind, found.id)

    def revoke_token(self, kind: str, id: str) -> bool:
        """Make the token of a customer, store or rider worthless at once (it is replaced by
        the hash of a token nobody is told); whether such a one exists."""
        if kind not in KINDS:
            raise ValueError(kind)
        with self.db.transaction() as conn:
            changed = conn.execute(f"UPDATE {kind} SET token_hash = ? WHERE id = ?",
                                   (hash_token(new_token()), id)).rowcount
        return changed > 0

    def store(self, store_id: str) -> Store | None:
        row = self.db.execute("SELECT id, name, owner_phone, lat, lon, menu FROM stores WHERE id = ?",
                              (store_id,)).fetchone()
        if row is None:
            return None
        return Store(row[0], row[1], row[2], Location(row[3], row[4]), codec.decode(row[5]))

    def menu(self, store_id: str) -> dict[str, MenuItem] | None:
        """What customers may order from a store by item id; None for an unknown store and for
        one that is not approved (it takes no orders, and it looks unknown to customers)."""
        row = self.db.execute("SELECT menu FROM stores WHERE id = ? AND status = ?",
                              (store_id, APPROVED)).fetchone()
        return None if row is None else {item.id: item for item in codec.decode(row[0])}

    def store_page(self, after_id: str, limit: int) -> list[StoreSummary]:
        """Up to `limit` approved stores with ids above `after_id`, by id (keyset paging, no
        menus): the catalogue customers see."""
        rows = self.db.execute("SELECT id, name, lat, lon FROM stores WHERE id > ? AND status = ?"
                               " ORDER BY id LIMIT ?", (after_id, APPROVED, limit))
        return [StoreSummary(r[0], r[1], Location(r[2], r[3])) for r in rows]

    def stores_in_box(self, center: Location, radius_km: float) -> list[StoreSummary]:
        """Approved stores in the bounding box of a circle (a superset of those in it; no menus),
        by latitude, longitude and id.

        On SQLite the approved stores (up to CATALOGUE_KEPT) are kept in memory, by latitude,
        with the change marks of CATALOGUE taken before they were read: every write to a store's
        row marks it, so a registration, a suspension or a move shows in the next list whichever
        process wrote it. On PostgreSQL, or with more stores, the database is asked each time."""
        box = bounding_box(center, radius_km)
        marks = self.db.marks
        if marks is not None:
            kept = self._catalogue
            if kept is None or not marks.fresh(kept[0]):
                kept = self._catalogue = self._read_catalogue(marks.stamp(CATALOGUE))
            lats = kept[1]
            if lats is not None:
                stores, lon_min, lon_max = kept[2], box[2], box[3]
                return [s for lon, s in stores[bisect_left(lats, box[0]):
                                               bisect_right(lats, box[1])]
                        if lon_min <= lon <= lon_max]
        rows = self.db.execute(
            "SELECT id, name, lat, lon FROM stores WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?"
            " AND status = ? ORDER BY lat, lon, id", (*box, APPROVED))
        return [StoreSummary(r[0], r[1], Location(r[2], r[3])) for r in rows]

    def _read_catalogue(self, stamp: tuple[int, int, int]) -> tuple[
            tuple[int, int, int], list[float] | None, list[tuple[float, StoreSummary]]]:
        """The approved stores as `stores_in_box` keeps them, read after `stamp` was taken; no
        latitudes if there are more than CATALOGUE_KEPT (the database is then asked until a
        change of the stores brings them under it)."""
        rows = self.db.execute("SELECT lat, lon, id, name FROM stores WHERE status = ?"
                               " ORDER BY lat, lon, id LIMIT ?",
                               (APPROVED, CATALOGUE_KEPT + 1)).fetchall()
        if len(rows) > CATALOGUE_KEPT:
            return stamp, None, []
        return stamp, [r[0] for r in rows], [(r[1], StoreSummary(r[2], r[3], Location(r[0], r[1])))
                                             for r in rows]

    def rider_seen(self, rider_id: str) -> tuple[bool, Location | None, str | None]:
        """(whether the rider exists, where and when it last reported its location)."""
        row = self.db.execute("SELECT lat, lon, located_at FROM riders WHERE id = ?",
                              (rider_id,)).fetchone()
        if row is None:
            return False, None, None
        return True, _location(row[0], row[1]), row[2]

    def move_rider(self, rider_id: str, loc: Location, at: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE riders SET lat = ?, lon = ?, located_at = ? WHERE id = ?",
                         (loc.lat, loc.lon, at, rider_id))

    def phone(self, recipient_kind: str, id: str) -> str:
        """Where a customer's or a store owner's messages go ("" if unknown)."""
        sql = ("SELECT phone FROM customers WHERE id = ?" if recipient_kind == "customer"
               else "SELECT owner_phone FROM stores WHERE id = ?")
        row = self.db.execute(sql, (id,)).fetchone()
        return row[0] if row else ""

    def exists(self, kind: str, id: str) -> bool:
        if kind not in KINDS:
            raise ValueError(kind)
        return self.db.execute(f"SELECT 1 FROM {kind} WHERE id = ?", (id,)).fetchone() is not None
