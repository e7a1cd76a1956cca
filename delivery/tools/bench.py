"""Benchmark of the actor layer alone (no HTTP): complete order lifecycles per second and actor
messages per order, on a fresh temporary data directory.

    python run.py bench --base simpleSystemBase --orders 500 --concurrency 16
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import cli, config
from ..actors.client import OrderClient
from ..actors.system import ActorRuntime
from ..domain.commands import Address
from ..domain.geo import Location

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


def run(base: str, orders: int, concurrency: int, admin_port: int = 19700) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="delivery-bench-") as data_dir:
        settings = config.load(**{"server.data_dir": data_dir, "actors.base": base,
                                  "actors.admin_port": admin_port, "actors.reply_timeout_s": 30.0,
                                  "onboarding.auto_approve": True})
        with ActorRuntime(settings) as runtime:
            client = OrderClient(runtime)
            store, _, _ = client.register_store("Bench Chicken", "010-0000-0000",
                                                Location(37.5004, 127.0300),
                                                [("Fried chicken", 18000), ("Cola", 2000)])
            parties = [(client.register_customer(f"c{i}", "010", HOME.location)[0],
                        client.register_rider(f"r{i}", "010", Location(37.499, 127.029))[0])
                       for i in range(concurrency)]
            lifecycle(client, parties[0][0], store, parties[0][1])  # warm-up, not measured
            before, replies_before = settle(runtime), runtime.received
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                futures = [pool.submit(lifecycle, client, *parties[i % concurrency][:1], store,
                                       parties[i % concurrency][1]) for i in range(orders)]
                for f in futures:
                    f.result()
            elapsed = time.perf_counter() - started
            after, replies = settle(runtime), runtime.received - replies_before
        actor_messages = after - before
    return {"base": base, "orders": orders, "concurrency": concurrency,
            "seconds": round(elapsed, 3), "orders_per_s": round(orders / elapsed, 1),
            "actor_messages_per_order": round(actor_messages / orders, 2),
            "replies_per_order": round(replies / orders, 2),
            "messages_per_order": round((actor_messages + replies) / orders, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("run.py bench", __doc__.split("\n\n")[0])
    parser.add_argument("--base", default="simpleSystemBase", choices=config.BASES,
                        help="Thespian system base")
    parser.add_argument("--orders", type=int, default=500, help="order lifecycles to run")
    parser.add_argument("--concurrency", type=int, default=16, help="lifecycles in flight at once")
    parser.add_argument("--admin-port", type=int, default=19700,
                        help="multiprocTCPBase: the actor admin's TCP port")
    args = parser.parse_args(argv)
    result = run(args.base, args.orders, args.concurrency, args.admin_port)
    for key, value in result.items():
        print(f"{key:26} {value}")
    return 0
