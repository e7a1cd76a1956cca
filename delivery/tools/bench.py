"""Benchmark of the actor layer alone (no HTTP): complete order lifecycles per second and actor
messages per order, on a fresh temporary data directory.

    python run.py bench --base simpleSystemBase --orders 500 --concurrency 16
    python run.py bench --rider-lists 3,300,3000   # a rider's list against the orders waiting
"""

from __future__ import annotations

import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import cli, config
from ..actors import base
from ..actors.client import OrderClient
from ..actors.system import ActorRuntime
from ..domain.commands import Address
from ..domain.geo import Location
from ..loadtest import database
from ..persistence import pg
from ..persistence.db import Database, database_path, is_postgres, statements_traced
from ..persistence.readmodel import ReadModel

HOME = Address(37.4979, 127.0276, "Gangnam-daero 396")


def lifecycle(client: OrderClient, customer: str, store: str, rider: str) -> None:
    """One order from placement to confirmed delivery: seven commands."""
    oid = client.place(customer, store, [("m1", 1), ("m2", 2)], HOME)["id"]
    client.pay(oid, customer)
    client.accept(oid, store)
    client.start_cooking(oid, store)
    client.finish_cooking(oid, store)
    client.pick(oid, rider)
    client.confirm(oid, customer)


def bench_store(client: OrderClient) -> str:
    """The one store every benchmark order is placed with."""
    return client.register_store("Bench Chicken", "010-0000-0000", Location(37.5004, 127.0300),
                                 [("Fried chicken", 18000), ("Cola", 2000)])[0]


def settle(runtime: ActorRuntime, timeout: float = 10.0) -> int:
    """Wait until no actor receives messages any more (consumers caught up); the total."""
    last, deadline = -1, time.monotonic() + timeout
    while time.monotonic() < deadline:
        total = runtime.messages_total()
        if total == last:
            return total
        last = total
        time.sleep(0.05)
    return last


def run(base: str, orders: int, concurrency: int, admin_port: int = 19700,
        count_statements: bool = False) -> dict[str, Any]:
    """Lifecycles per second through the actors; with `count_statements` (SQLite, in-process)
    also the SQL statements per order (a trace callback on each: a little slower)."""
    with tempfile.TemporaryDirectory(prefix="delivery-bench-") as data_dir:
        settings = config.load(**{"server.data_dir": data_dir, "actors.base": base,
                                  "actors.admin_port": admin_port, "actors.reply_timeout_s": 30.0,
                                  "onboarding.auto_approve": True})
        with ActorRuntime(settings) as runtime:
            client = OrderClient(runtime)
            store = bench_store(client)
            parties = [(client.register_customer(f"c{i}", "010", HOME.location)[0],
                        client.register_rider(f"r{i}", "010", Location(37.499, 127.029))[0])
                       for i in range(concurrency)]
            lifecycle(client, parties[0][0], store, parties[0][1])  # warm-up, not measured
            before, replies_before = settle(runtime), runtime.received
            statements = Statements().watch(runtime) if count_statements else None
            started = time.perf_counter()
            try:
                with ThreadPoolExecutor(concurrency) as pool:
                    futures = [pool.submit(lifecycle, client, *parties[i % concurrency][:1], store,
                                           parties[i % concurrency][1]) for i in range(orders)]
                    for f in futures:
                        f.result()
                elapsed = time.perf_counter() - started
                after, replies = settle(runtime), runtime.received - replies_before
            finally:
                if statements is not None:
                    statements.close()
        actor_messages = after - before
    return {"base": base, "orders": orders, "concurrency": concurrency,
            "seconds": round(elapsed, 3), "orders_per_s": round(orders / elapsed, 1),
            "actor_messages_per_order": round(actor_messages / orders, 2),
            "replies_per_order": round(replies / orders, 2),
            "messages_per_order": round((actor_messages + replies) / orders, 2),
            **({"statements_per_order": round(sum(statements.seen.values()) / orders, 2)}
               if statements is not None else {})}


# -- what each command costs ------------------------------------------------------------------

STEPS = ("place", "pay", "accept", "start cooking", "finish cooking", "pick up", "confirm")


class Statements:
    """SQL statements sent to the service's database, by their text with the values left out.

    SQLite: every statement the actors' shared connections run (sqlite3's trace callback);
    PostgreSQL: every statement sent through the adapter's sessions."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self._undo: list[Callable[[], None]] = []

    def note(self, sql: str) -> None:
        text = re.sub(r"'[^']*'|\b\d+(\.\d+)?\b|%s|\?", "?", " ".join(sql.split()))
        self.seen[re.sub(r"(\(\?(, \?)*\))(, \(\?(, \?)*\))+", r"\1, ...", text)] += 1

    def watch(self, runtime: ActorRuntime) -> Statements:
        if is_postgres(runtime.db_path):
            original = pg.PgConnection.execute

            def execute(conn: Any, sql: str, params: Any = ()) -> Any:
                self.note(sql)
                return original(conn, sql, params)
            pg.PgConnection.execute = execute  # type: ignore[method-assign]
            self._undo.append(lambda: setattr(pg.PgConnection, "execute", original))
        else:
            for durable in (True, False):
                conn = Database.shared(runtime.db_path, durable=durable).conn
                conn.set_trace_callback(statements_traced(self.note))
                self._undo.append(lambda conn=conn: conn.set_trace_callback(None))
        return self

    def close(self) -> None:
        for undo in self._undo:
            undo()


def costs(storage_url: str = "") -> list[dict[str, Any]]:
    """One order's seven commands, each alone (nothing else in flight, so no group commit
    shares its costs), with the actor messages and SQL statements each caused until the
    system was quiet again (the consumers' work included)."""
    with tempfile.TemporaryDirectory(prefix="delivery-costs-") as data_dir:
        settings = config.load(**{"server.data_dir": data_dir, "storage.url": storage_url,
                                  "onboarding.auto_approve": True})
        with ActorRuntime(settings) as runtime:
            client = OrderClient(runtime)
            store = bench_store(client)
            customer = client.register_customer("c", "010", HOME.location)[0]
            rider = client.register_rider("r", "010", Location(37.499, 127.029))[0]
            lifecycle(client, customer, store, rider)  # warm: store, rider, gateway live
            order: dict[str, str] = {}
            steps = [lambda: order.update(id=client.place(customer, store, [("m1", 1), ("m2", 2)],
                                                          HOME)["id"]),
                     lambda: client.pay(order["id"], customer),
                     lambda: client.accept(order["id"], store),
                     lambda: client.start_cooking(order["id"], store),
                     lambda: client.finish_cooking(order["id"], store),
                     lambda: client.pick(order["id"], rider),
                     lambda: client.confirm(order["id"], customer)]
            rows = []
            settle(runtime)
            for name, step in zip(STEPS, steps, strict=True):
                statements = Statements().watch(runtime)
                base.TALLY = Counter()
                try:
                    step()
                    settle(runtime)
                    time.sleep(0.3)  # the webhook, AlimTalk and store consumers' last nudges
                    settle(runtime)
                finally:
                    tally, base.TALLY = base.TALLY, None
                    statements.close()
                rows.append({"command": name, "messages": dict(tally),
                             "statements": dict(statements.seen)})
    return rows


def print_costs(rows: list[dict[str, Any]]) -> None:
    total_m = total_s = 0
    for row in rows:
        m, s = sum(row["messages"].values()), sum(row["statements"].values())
        total_m, total_s = total_m + m, total_s + s
        print(f"{row['command']}: {m} actor messages (+1 reply), {s} SQL statements")
        for (kind, message), n in sorted(row["messages"].items()):
            print(f"    message    {n:3} x {kind} <- {message}")
        for sql, n in sorted(row["statements"].items(), key=lambda kv: -kv[1]):
            print(f"    statement  {n:3} x {sql[:110]}")
    print(f"lifecycle: {total_m} actor messages (+{len(rows)} replies), {total_s} SQL statements")


CITY = (37.55, 126.99, 0.15, 0.2)
"""Centre and half-extent (degrees of latitude, longitude) of the city the waiting orders are
spread over: about 33 × 35 km, Seoul's size."""
RIDER_RADIUS_KM = config.load(env={}).dispatch.radius_km  # the configured default


def rider_lists(url: str, counts: list[int], seed: int = 16) -> list[dict[str, float]]:
    """Time `ReadModel.available_deliveries` for a rider at the city's centre with each count of
    cooked, unpicked orders spread uniformly over the city (and ten delivered ones per waiting
    one), as read-model rows written straight into a fresh database: the list's own cost,
    without HTTP. µs per list, and how many it lists."""
    rng = random.Random(seed)
    lat0, lon0, dlat, dlon = CITY
    rider = Location(lat0, lon0)
    results = []
    with tempfile.TemporaryDirectory(prefix="delivery-riderlists-") as data_dir:
        db = Database(url or database_path(data_dir))
        try:
            reads = ReadModel(db)
            for n in counts:
                rows = [(f"ord_{i}", "cus_1", "sto_1", "cooked", "paid", None,
                         lat0 + rng.uniform(-dlat, dlat), lon0 + rng.uniform(-dlon, dlon),
                         "t", "t", 5, b"", "{}") for i in range(n)]
                rows += [(f"old_{i}", "cus_1", "sto_1", "delivered", "paid", "rid_1", lat0, lon0,
                          "t", "t", 9, b"", "{}") for i in range(10 * n)]
                with db.transaction() as conn:
                    conn.execute("DELETE FROM order_views")
                    conn.executemany("INSERT INTO order_views (id, customer_id, store_id, status,"
                                     " payment_status, rider_id, lat, lon, created_at,"
                                     " updated_at, version, state, view)"
                                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                if db.dialect == "postgresql":
                    db.execute("ANALYZE order_views")
                listed = len(reads.available_deliveries(rider, RIDER_RADIUS_KM))
                times = max(20, 200_000 // (n + 100))
                started = time.perf_counter()
                for _ in range(times):
                    reads.available_deliveries(rider, RIDER_RADIUS_KM)
                took = (time.perf_counter() - started) / times
                results.append({"waiting": n, "listed": listed, "us_per_list": took * 1e6})
        finally:
            db.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("run.py bench", __doc__.split("\n\n")[0])
    parser.add_argument("--base", default="simpleSystemBase", choices=config.BASES,
                        help="Thespian system base")
    parser.add_argument("--orders", type=int, default=500, help="order lifecycles to run")
    parser.add_argument("--concurrency", type=int, default=16, help="lifecycles in flight at once")
    parser.add_argument("--admin-port", type=int, default=19700,
                        help="multiprocTCPBase: the actor admin's TCP port")
    parser.add_argument("--statements", action="store_true",
                        help="also count the SQL statements per order (simpleSystemBase; slows "
                             "the run a little)")
    parser.add_argument("--costs", action="store_true",
                        help="instead: what each command of one order costs, alone (messages by "
                             "actor and type, SQL statements by text)")
    parser.add_argument("--storage-url", default="",
                        help="--costs: a PostgreSQL database to use (its tables are made), or "
                             "'auto': a fresh one on the local server, dropped after; empty: "
                             "SQLite in a temporary directory")
    parser.add_argument("--rider-lists", metavar="N,N,...",
                        help="instead: µs per rider's list of deliveries with N orders waiting "
                             "across a city (read-model rows in a fresh database: SQLite, or "
                             "PostgreSQL with --storage-url auto); default: off")
    args = parser.parse_args(argv)
    if args.rider_lists:
        if args.storage_url not in ("", database.AUTO):
            parser.error("--rider-lists writes rows of its own: --storage-url auto or none")
        try:
            counts = [int(n) for n in args.rider_lists.split(",")]
        except ValueError:
            counts = []  # refused below, as a negative count is
        if not counts or min(counts) < 0:
            parser.error(f"--rider-lists takes whole numbers, got {args.rider_lists!r}")
        with database.storage(database.chosen(args.storage_url, 1)) as url:
            for row in rider_lists(url, counts):
                print(f"{row['waiting']:>7} waiting across the city: {row['listed']:>4} listed, "
                      f"{row['us_per_list']:9.1f} µs a list")
        return 0
    if args.costs:
        with database.storage(database.chosen(args.storage_url, 1)) as url:
            print_costs(costs(url))
        return 0
    result = run(args.base, args.orders, args.concurrency, args.admin_port,
                 count_statements=args.statements)
    for key, value in result.items():
        print(f"{key:26} {value}")
    return 0
