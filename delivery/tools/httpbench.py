"""`python run.py httpbench`: requests/s and latency of the front door at several concurrencies,
beside an aiohttp hello-world measured in the same run on the same machine.

Starts `run.py serve` and a hello-world server as subprocesses on free loopback ports with a
temporary data directory, then drives them with closed-loop aiohttp clients from this process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time

import aiohttp

from .. import cli
from .limits import UNLIMITED
from .localhost import ROOT, free_port, wait_up

HELLO = "from aiohttp import web\napp = web.Application()\napp.router.add_get('/', lambda r: web.Response(text='hello'))\nweb.run_app(app, host='127.0.0.1', port=int(__import__('sys').argv[1]), print=None)\n"


async def _load(make_request, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker():
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                status = await make_request(session)
                latencies.append(time.perf_counter() - started)
                errors += status >= 400
        began = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(clients)])
        elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"rps": len(latencies) / elapsed, "p50_ms": pick(0.50), "p99_ms": pick(0.99),
            "n": len(latencies), "errors": errors}


async def _bench(clients_list: list[int], seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="delivery-httpbench-") as data_dir:
        port, hello_port = free_port(), free_port()
        env = {**os.environ, **UNLIMITED, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
               "DELIVERY_ADMIN_TOKEN": "httpbench-admin-token-01234"}
        service = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port),
                                    "--data-dir", data_dir], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hello = subprocess.Popen([sys.executable, "-c", HELLO, str(hello_port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base, hello_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hello_port}/"
            await wait_up(f"{base}/ready")
            await wait_up(hello_url)
            async with aiohttp.ClientSession(base) as s:
                cust = await (await s.post("/customers", json={
                    "name": "b", "phone": "0", "location": {"lat": 37.5, "lon": 127.0}})).json()
                store = await (await s.post("/stores", json={
                    "name": "b", "owner_phone": "0", "location": {"lat": 37.5, "lon": 127.0},
                    "menu": [{"name": "Rice", "price": 1000}]})).json()
            auth = {"Authorization": f"Bearer {cust['token']}"}
            body = {"store_id": store["id"], "items": [{"menu_item_id": "m1", "quantity": 1}],
                    "delivery_address": {"lat": 37.5, "lon": 127.0, "text": "x"}}
            async with aiohttp.ClientSession(base) as s:
                order = await (await s.post("/orders", json=body, headers=auth)).json()

            async def get_hello(s):
                async with s.get(hello_url) as r:
                    await r.read()
                    return r.status

            async def get_order(s):
                async with s.get(f"{base}/orders/{order['id']}", headers=auth) as r:
                    await r.read()
                    return r.status

            async def post_order(s):
                async with s.post(f"{base}/orders", json=body, headers=auth) as r:
                    await r.read()
                    return r.status

            print(f"{'endpoint':<22}{'clients':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
            for name, fn in (("hello world", get_hello), ("GET /orders/{id}", get_order),
                             ("POST /orders", post_order)):
                for clients in clients_list:
                    r = await _load(fn, clients, seconds)
                    print(f"{name:<22}{clients:>8}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}"
                          f"{r['p99_ms']:>10.2f}{r['errors']:>8}", flush=True)
        finally:
            for proc in (service, hello):
                proc.terminate()
                proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    p = cli.parser("run.py httpbench", __doc__.split("\n\n")[0])
    p.add_argument("--clients", default="1,16,64", help="comma-separated concurrencies")
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    args = p.parse_args(argv)
    asyncio.run(_bench([int(c) for c in args.clients.split(",")], args.seconds))
    return 0
