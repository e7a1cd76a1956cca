"""`python run.py httpbench`: requests/s and latency of the front door's reads (and of placing an
order) at several concurrencies, each beside an aiohttp JSON hello-world measured just before it
in the same run on the same machine, and the ratio of the two.

Starts `run.py serve` and a hello-world server as subprocesses on free loopback ports with a
temporary data directory, seeds a customer, a store, a rider and cooked orders, then loads each
endpoint with wrk where installed, else with aiohttp clients from this process (said when so).
With `--instructions N` it counts instead the instructions each request costs, under valgrind
(callgrind.py): the same from run to run, where requests per second on a shared machine are not.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from .. import cli
from ..jsontext import dumps
from ..loadtest import database
from . import callgrind
from .limits import UNLIMITED
from .localhost import ROOT, free_port, wait_up
from .wrk import FALLBACK_NOTICE, Result, Target, find_wrk, run_python, run_wrk

HELLO = ("import sys\nfrom aiohttp import web\napp = web.Application()\n"
         "app.router.add_get('/', lambda r: web.json_response({'message': 'hello'}))\n"
         "web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), print=None)\n")
HOME = {"lat": 37.5, "lon": 127.0}
COOKED = 3  # orders waiting for a rider: what `available` lists


@contextmanager
def _servers(storage_url: str, workers: int, counted: bool = False
             ) -> Iterator[tuple[str, str, list[subprocess.Popen], Path]]:
    """The service and the hello-world, running (under callgrind if `counted`); their URLs,
    processes and the directory callgrind writes to."""
    with tempfile.TemporaryDirectory(prefix="delivery-httpbench-") as data_dir:
        out = Path(data_dir) / "callgrind"
        out.mkdir()

        def run(command: list[str]) -> list[str]:
            return callgrind.wrap(command, out) if counted else command

        port, hello_port = free_port(), free_port()
        env = {**os.environ, **UNLIMITED, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
               "DELIVERY_ADMIN_TOKEN": "httpbench-admin-token-01234"}
        if storage_url:
            env["DELIVERY_STORAGE_URL"] = storage_url
        if counted:  # callgrind counts one process: the actors run in the front door's
            env["DELIVERY_ACTORS_OWN_PROCESS"] = "false"
        service = subprocess.Popen(run([sys.executable, "run.py", "serve", "--port", str(port),
                                        "--data-dir", data_dir, "--workers", str(workers)]),
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        hello = subprocess.Popen(run([sys.executable, "-c", HELLO, str(hello_port)]),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hello_port}/",
                   [service, hello], out)
        finally:
            for proc in (service, hello):
                proc.terminate()
                proc.wait(30)


async def _post(s: aiohttp.ClientSession, path: str, token: str | None = None,
                body: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with s.post(path, json=body, headers=headers) as r:
        data = await r.json(content_type=None)
        if r.status >= 300:
            raise RuntimeError(f"seeding: POST {path} answered {r.status}: {data}")
        return data


async def _seed(base: str, hello_url: str) -> list[Target]:
    """A customer, a store, a rider near it and cooked orders; the endpoints to load."""
    async with aiohttp.ClientSession(base) as s:
        cust = await _post(s, "/customers", body={"name": "b", "phone": "0", "location": HOME})
        store = await _post(s, "/stores", body={"name": "b", "owner_phone": "0", "location": HOME,
                                                 "menu": [{"name": "Rice", "price": 1000}]})
        rider = await _post(s, "/riders", body={"name": "r", "phone": "0", "location": HOME})
        order = {"store_id": store["id"], "items": [{"menu_item_id": "m1", "quantity": 1}],
                 "delivery_address": {**HOME, "text": "x"}}
        for _ in range(COOKED):
            placed = await _post(s, "/orders", cust["token"], order)
            await _post(s, f"/orders/{placed['id']}/payment", cust["token"],
                        {"method": "card", "card_token": "tok_visa"})
            for step in ("accept", "start-cooking", "finish-cooking"):
                await _post(s, f"/stores/{store['id']}/orders/{placed['id']}/{step}",
                            store["token"])
    return [Target("hello world (JSON)", hello_url),
            Target("GET /orders/{id}", f"{base}/orders/{placed['id']}", cust["token"]),
            Target("GET /riders/me/deliveries/available",
                   f"{base}/riders/me/deliveries/available", rider["token"]),
            Target("GET /stores?lat&lon", f"{base}/stores?lat={HOME['lat']}&lon={HOME['lon']}",
                   cust["token"]),
            Target("POST /orders", f"{base}/orders", cust["token"], dumps(order))]


async def _bench(clients_list: list[int], seconds: float, wrk: str | None, storage_url: str,
                 workers: int, rounds: int = 1) -> None:
    with _servers(storage_url, workers) as (base, hello_url, _, _):
        await wait_up(f"{base}/ready")
        await wait_up(hello_url)
        hello, *targets = await _seed(base, hello_url)
        print(f"{'endpoint':<38}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
              f"{'errors':>8}{'hello/s':>10}{'× hello':>9}")
        pairs: dict[tuple[str, int], list[tuple[Result, Result]]] = {}
        for done in range(1, rounds + 1):
            for target in targets:
                for clients in clients_list:
                    # hello-world just before each endpoint: a ratio of two figures measured
                    # under the same background load (a shared machine's load drifts within a
                    # minute); with several rounds, every endpoint is measured once a round
                    h = await _measure(wrk, hello, clients, seconds)
                    r = await _measure(wrk, target, clients, seconds)
                    pairs.setdefault((target.name, clients), []).append((r, h))
                    if done == rounds:
                        _report(target.name, clients, pairs[(target.name, clients)])


def _report(name: str, clients: int, pairs: list[tuple[Result, Result]]) -> None:
    """One endpoint's row: with several rounds, the round of the median ratio (the lower of
    the middle two), then every round's ratio."""
    ranked = sorted(pairs, key=lambda p: p[0].rps / p[1].rps)
    r, h = ranked[(len(ranked) - 1) // 2]
    print(f"{name:<38}{clients:>8}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}"
          f"{h.rps:>10.0f}{r.rps / h.rps:>9.2f}", flush=True)
    if len(pairs) > 1:
        print(f"{'':<4}median of {len(pairs)} rounds; each round's × hello: "
              + " ".join(f"{p[0].rps / p[1].rps:.2f}" for p in pairs), flush=True)


async def _count(requests: int, storage_url: str) -> None:
    """Instructions per request of each endpoint and of the hello-world (callgrind.py)."""
    with _servers(storage_url, 1, counted=True) as (base, hello_url, (service, world), out):
        await wait_up(f"{base}/ready", COUNTED_START_S, service)
        await wait_up(hello_url, COUNTED_START_S, world)
        hello, *targets = await _seed(base, hello_url)
        h = await callgrind.per_request(world.pid, out, hello, requests)
        print(f"{'endpoint':<38}{'k instr/request':>16}{'hello k':>9}{'hello ÷ it':>11}")
        print(f"{hello.name:<38}{h / 1000:>16.1f}{h / 1000:>9.1f}{1:>11.2f}", flush=True)
        for target in targets:
            n = await callgrind.per_request(service.pid, out, target, requests)
            print(f"{target.name:<38}{n / 1000:>16.1f}{h / 1000:>9.1f}{h / n:>11.2f}", flush=True)


COUNTED_START_S = 300.0  # starting under valgrind takes ten times as long


async def _measure(wrk: str | None, target: Target, clients: int, seconds: float) -> Result:
    if wrk is None:
        return await run_python(target, clients, seconds)
    return await asyncio.to_thread(run_wrk, wrk, target, clients, seconds)


def main(argv: list[str] | None = None) -> int:
    p = cli.parser("run.py httpbench", __doc__.split("\n\n")[0])
    p.add_argument("--clients", default="1,16,64",
                   help="comma-separated concurrencies (wrk: connections on one thread)")
    p.add_argument("--seconds", type=float, default=5.0,
                   help="duration of each measurement (wrk: whole seconds, at least 1)")
    p.add_argument("--wrk", default="wrk", help="the wrk executable; when it is not found the "
                                                "Python clients are used, with a notice")
    p.add_argument("--storage-url", help=f"the service's storage.url: a postgresql:// URL, or "
                   f"{database.AUTO!r} for a fresh database on the local server, dropped after "
                   f"the run (default: DELIVERY_STORAGE_URL, else SQLite)")
    p.add_argument("--rounds", type=int, default=1,
                   help="measure every endpoint (each beside its hello-world) this many times, "
                        "in turn, and print the round of the median ratio with every round's "
                        "ratio: on a shared machine one ratio moves by ±0.1")
    p.add_argument("--workers", type=int, default=1,
                   help="serve --workers N (more than 1 needs PostgreSQL)")
    p.add_argument("--instructions", type=int, default=0, metavar="N",
                   help="instead of requests/s: the instructions the service executes per "
                        "request, over N requests an endpoint, counted by valgrind's callgrind "
                        "(the same from run to run, where requests/s on a shared machine are "
                        "not); 0: off")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.instructions:
        if not callgrind.available():
            p.error("--instructions needs valgrind (apt-get install valgrind)")
        if args.workers != 1:
            p.error("--instructions counts one process: leave --workers at 1")
        print(callgrind.NOTICE.format(n=args.instructions), flush=True)
        with database.storage(database.chosen(args.storage_url, 1)) as url:
            asyncio.run(_count(args.instructions, url))
        return 0
    wrk = find_wrk(args.wrk)
    if wrk is None:
        print(FALLBACK_NOTICE.format(why=f"{args.wrk!r} not found"), flush=True)
    else:
        print(f"load generator: wrk ({wrk}), one thread", flush=True)
    with database.storage(database.chosen(args.storage_url, args.workers)) as url:
        asyncio.run(_bench([int(c) for c in args.clients.split(",")], args.seconds, wrk, url,
                           args.workers, args.rounds))
    return 0
