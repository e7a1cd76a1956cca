"""`python run.py restartbench`: time from starting the service to ready against the number of
orders in the journal, and the memory of the whole service at 0 and at max_live_orders live
order actors.

The journal is filled through the domain (the same `place`/`decide` the order actors run) and
appended in large transactions, which is how a journal of 100,000 orders is made in seconds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from .. import cli, clock, codec, config
from ..domain import commands as c
from ..domain import order
from ..domain.geo import Location
from ..domain.menu import MenuItem
from ..domain.onboarding import APPROVED
from ..persistence.db import Database, database_path
from ..persistence.directory import Directory, Store
from ..persistence.journal import Journal
from ..persistence.readmodel import ReadModel
from .localhost import ROOT, free_port, wait_up

TOKEN = "restartbench-customer"


def seed(data_dir: str, orders: int) -> tuple[str, str, list[str]]:
    """Register a customer and a store and journal `orders` orders at various stages."""
    db = Database(database_path(data_dir))
    directory, journal = Directory(db), Journal(db)
    now = clock.now()
    directory.add_customer("cus_bench", "Bench", "010", Location(37.5, 127.0), TOKEN, now)
    menu = (MenuItem("m1", "Rice", 1000),)
    directory.add_store(Store("sto_bench", "Bench", "010", Location(37.5, 127.0), menu), "st", now,
                        status=APPROVED)
    steps = [lambda oid: c.RecordPayment(oid, f"pay_{oid}", "card", 1000),
             lambda oid: c.AcceptOrder(oid, "sto_bench"), lambda oid: c.StartCooking(oid, "sto_bench")]
    placed: list[str] = []
    address = c.Address(37.5, 127.0, "x")
    batch: list = []
    for i in range(orders):
        oid = f"ord_bench_{i:07d}"
        events = list(order.place(c.PlaceOrder(oid, "cus_bench", "sto_bench", (("m1", 1),),
                                                address), {"m1": menu[0]}, now))
        state = order.replay(events)
        for step in steps[: i % 4]:
            (event,) = order.decide(state, step(oid), now)
            state = order.evolve(state, event)
            events.append(event)
        if state.status == "placed":
            placed.append(oid)
        batch.append(events)
        if len(batch) == 1000 or i == orders - 1:
            with db.transaction() as conn:
                for evs in batch:
                    conn.executemany(
                        "INSERT INTO events (order_id, version, customer_id, store_id, kind,"
                        " event_id, at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(e.order_id, e.version, "cus_bench", "sto_bench", type(e).__name__,
                          e.event_id, e.at, codec.encode(e))
                         for e in evs])
            batch = []
    ReadModel(db).catch_up(journal)
    # The notifier's and the store's backlog would be a first start's work, not a restart's.
    with db.transaction() as conn:
        head = journal.head()
        conn.execute("INSERT OR REPLACE INTO checkpoints VALUES ('notifier', ?)", (head,))
        conn.execute("INSERT OR REPLACE INTO checkpoints VALUES ('store:sto_bench', ?)", (head,))
    db.close()
    return "cus_bench", "sto_bench", placed


ADMIN = "restartbench-admin-token-0"


def pss_kib(root_pid: int, sid: int | None) -> int:
    """Proportional set size of the service: the server's process tree and the admin's session."""
    pids = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(name) == root_pid or int(stat[1]) == root_pid or (sid and int(stat[3]) == sid):
            pids.add(int(name))
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def drop_read_model(data_dir: str) -> None:
    """Throw the read model away, so that the start must project the whole journal again."""
    db = Database(database_path(data_dir))
    with db.transaction() as conn:
        conn.execute("DELETE FROM order_views")
        conn.execute("DELETE FROM checkpoints WHERE name = 'projector'")
    db.close()


async def measure(orders: int, base: str, memory: bool, cold: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="delivery-restart-") as data_dir:
        started = time.perf_counter()
        _, _, placed = seed(data_dir, orders)
        seeded = time.perf_counter() - started
        if cold:
            drop_read_model(data_dir)
        port = free_port()
        env = {**os.environ, "DELIVERY_ACTORS_BASE": base, "DELIVERY_ADMIN_TOKEN": ADMIN,
               "DELIVERY_ACTORS_ADMIN_PORT": str(free_port())}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port),
                                 "--data-dir", data_dir], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await wait_up(f"http://127.0.0.1:{port}/ready", timeout=120)
            ready = time.perf_counter() - t0
            line = f"{base:<17} {orders:>7} orders{' (read model rebuilt)' if cold else ''}: " \
                   f"ready {ready:.2f} s after start " \
                   f"(journal seeded in {seeded:.1f} s)"
            if memory:
                sid_file = Path(data_dir) / "actors.pid"
                sid = int(sid_file.read_text()) if sid_file.exists() else None
                await asyncio.sleep(0.5)
                idle = pss_kib(proc.pid, sid)
                cap = config.load().actors.max_live_orders
                async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as s:
                    for oid in placed[:cap]:
                        async with s.post(f"/orders/{oid}/payment",
                                          json={"method": "card", "card_token": "t"},
                                          headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                            assert r.status == 200, await r.text()
                    async with s.get("/admin/api/stats", headers={"Authorization": f"Bearer {ADMIN}"}) as r:
                        assert r.status == 200, await r.text()
                        live = (await r.json())["live_order_actors"]
                await asyncio.sleep(0.5)
                busy = pss_kib(proc.pid, sid)
                line += (f"; memory (PSS) {idle / 1024:.1f} MiB with 0 live orders, "
                         f"{busy / 1024:.1f} MiB with {live} live "
                         f"({(busy - idle) / max(1, live):.0f} KiB per order actor)")
            print(line, flush=True)
        finally:
            proc.terminate()
            proc.wait(60)


def main(argv: list[str] | None = None) -> int:
    p = cli.parser("run.py restartbench", __doc__.split("\n\n")[0])
    p.add_argument("--orders", default="1000,10000,100000",
                   help="journal sizes to measure, in orders, comma-separated")
    p.add_argument("--base", default="simpleSystemBase", choices=config.BASES,
                   help="Thespian system base")
    p.add_argument("--memory", action="store_true", help="also measure memory at 0 and cap live")
    p.add_argument("--cold", action="store_true",
                   help="drop the read model first: the start re-projects the whole journal")
    args = p.parse_args(argv)
    for n in (int(x) for x in args.orders.split(",")):
        asyncio.run(measure(n, args.base, args.memory, args.cold))
    return 0
