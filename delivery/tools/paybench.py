"""`python run.py paybench`: the payment path under the circuit breaker, through HTTP.

Starts `run.py serve` (default config, simulated provider) on free loopback ports and reports
payment throughput with the breaker closed, the latency of a refused payment while the circuit
is open, and the time from the provider's recovery to the first successful payment.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

import aiohttp

from .. import cli
from .limits import UNLIMITED
from .localhost import ROOT, free_port, wait_up

ADMIN = "paybench-admin-token-012345"


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def _run(clients: int, seconds: float, config: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="delivery-paybench-") as data_dir:
        port = free_port()
        env = {**os.environ, **UNLIMITED, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
               "DELIVERY_ADMIN_TOKEN": ADMIN}
        cmd = [sys.executable, "run.py", "serve", "--port", str(port), "--data-dir", data_dir]
        service = subprocess.Popen(cmd + (["--config", config] if config else []), cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_up(f"{base}/ready")
            async with aiohttp.ClientSession(base) as s:
                await _measure(s, clients, seconds)
        finally:
            service.terminate()
            service.wait(30)


async def _place_many(new_order, clients: int, n: int) -> list[str]:
    """n orders, placed by `clients` at once."""
    placed: list[str] = []

    async def placer() -> None:
        while len(placed) < n:
            placed.append(await new_order())

    await asyncio.gather(*[placer() for _ in range(clients)])
    return placed[:n]


async def _measure(s: aiohttp.ClientSession, clients: int, seconds: float) -> None:
    cust = await (await s.post("/customers", json={"name": "p", "phone": "0",
                                                   "location": {"lat": 37.5, "lon": 127.0}})).json()
    store = await (await s.post("/stores", json={"name": "p", "owner_phone": "0",
                                                 "location": {"lat": 37.5, "lon": 127.0},
                                                 "menu": [{"name": "Rice", "price": 1000}]})).json()
    auth = {"Authorization": f"Bearer {cust['token']}"}
    admin = {"Authorization": f"Bearer {ADMIN}"}
    order_body = {"store_id": store["id"], "items": [{"menu_item_id": "m1", "quantity": 1}],
                  "delivery_address": {"lat": 37.5, "lon": 127.0, "text": "x"}}
    pay_body = {"method": "card", "card_token": "tok_visa"}

    async def new_order() -> str:
        async with s.post("/orders", json=order_body, headers=auth) as r:
            return (await r.json())["id"]

    async def pay(oid: str) -> tuple[int, float]:
        started = time.perf_counter()
        async with s.post(f"/orders/{oid}/payment", json=pay_body, headers=auth) as r:
            body = await r.read()
            if r.status != 200:
                last_refusal[:] = [body.decode(errors="replace")]
            return r.status, time.perf_counter() - started

    last_refusal: list[str] = []

    # 1. closed circuit: payments per second for `seconds`, on orders placed beforehand (not
    # timed); the pool is sized for far more than two cores pay in that time.
    orders = await _place_many(new_order, clients, int(clients * seconds * 60))
    latencies: list[float] = []
    others: Counter[int] = Counter()  # answers other than 200 (e.g. 503 on a starved machine)
    it = iter(orders)
    deadline = time.perf_counter() + seconds

    async def payer():
        for oid in it:
            if time.perf_counter() >= deadline:
                return
            status, took = await pay(oid)
            if status == 200:
                latencies.append(took)
            else:
                others[status] += 1

    began = time.perf_counter()
    await asyncio.gather(*[payer() for _ in range(clients)])
    elapsed = time.perf_counter() - began
    short = "" if len(latencies) < len(orders) else f" (ran out of the {len(orders)} placed orders)"
    print(f"closed circuit: {len(latencies)} payments in {elapsed:.2f} s = "
          f"{len(latencies) / elapsed:.0f} payments/s at {clients} clients; "
          f"p50 {_pct(latencies, .5):.2f} ms, p99 {_pct(latencies, .99):.2f} ms{short}")
    if others:  # said, not hidden: a healthy provider should never refuse here
        print(f"  not paid: {dict(others)} (the last answer: {last_refusal[0][:300]})")

    # 2. provider failing: open the circuit, then time refusals
    await s.post("/admin/api/faults", json={"target": "payment", "kind": "fail", "rate": 1.0},
                 headers=admin)
    unpaid = [await new_order() for _ in range(400)]
    for oid in unpaid[:10]:
        await pay(oid)
    state = (await (await s.get("/admin/api/payment", headers=admin)).json())["circuit"]["state"]
    refused: list[float] = []
    for oid in unpaid[10:]:
        status, took = await pay(oid)
        if status == 503:
            refused.append(took)
    print(f"open circuit ({state}): {len(refused)} refused payments, "
          f"p50 {_pct(refused, .5):.2f} ms, p99 {_pct(refused, .99):.2f} ms")

    # 3. recovery: clear the fault and pay until it works
    await s.post("/admin/api/faults", json={"target": "all", "kind": "clear"}, headers=admin)
    recovered = time.perf_counter()
    attempts = 0
    while True:
        attempts += 1
        status, _ = await pay(unpaid[0])
        if status == 200:
            break
        await asyncio.sleep(0.05)
    print(f"recovery: first successful payment {time.perf_counter() - recovered:.2f} s after the "
          f"provider recovered ({attempts} attempts, 50 ms apart)")


def main(argv: list[str] | None = None) -> int:
    p = cli.parser("run.py paybench", __doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16, help="concurrent paying clients")
    p.add_argument("--seconds", type=float, default=3.0, help="length of the closed-circuit phase in seconds")
    p.add_argument("--config", help="TOML overlay for the service, e.g. a shorter reset timeout "
                   "(default: none)")
    args = p.parse_args(argv)
    asyncio.run(_run(args.clients, args.seconds, args.config))
    return 0
