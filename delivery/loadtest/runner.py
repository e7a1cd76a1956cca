"""`python run.py loadtest`: drive the real HTTP service with real order lifecycles.

Open model (`--rate`, optionally `--ramp-from` over `--ramp`): new orders arrive on schedule
whether or not earlier ones finished, and latency counts from each request's intended send time.
Closed model (`--concurrency N`): N customers order back to back. The run stops by itself after
`--duration` seconds or `--max-requests` requests. `--spawn` starts the service on a temporary
data directory; `--fault payment:slow:2000@10s-20s` calls the admin fault API during the run.
Overload ramp (`--steps 0.5,1,2,5` of `--capacity N`, or `--rates 80,160,320`): one open-model step
per rate, reported as offered load against goodput, refusals and latency (delivery/loadtest/ramp.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..localhost import ROOT, free_port, wait_up
from . import curve, ramp
from . import faults as faultmod
from .report import render
from .scenario import Client, Lifecycle, Mix, register
from .schedule import arrivals
from .stats import Recorder, fmt_ms


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py loadtest", description=__doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running service, e.g. http://127.0.0.1:8080")
    target.add_argument("--spawn", action="store_true", help="start the service on a temp dir")
    p.add_argument("--config", help="TOML overlay for --spawn")
    p.add_argument("--base", help="actor system base for --spawn (default: the config's)")
    p.add_argument("--admin-token", default=os.environ.get("DELIVERY_ADMIN_TOKEN", ""),
                   help="needed for --fault against --url (default DELIVERY_ADMIN_TOKEN)")
    p.add_argument("--rate", type=float, default=10.0, help="new orders per second (open model)")
    p.add_argument("--ramp-from", type=float, help="start the rate here and ramp to --rate")
    p.add_argument("--ramp", type=float, default=0.0, help="seconds of the ramp")
    p.add_argument("--concurrency", type=int, help="closed model: N customers back to back")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    p.add_argument("--max-requests", type=int, default=1_000_000, help="stop after this many")
    p.add_argument("--stores", type=int, default=10)
    p.add_argument("--customers", type=int, default=100)
    p.add_argument("--riders", type=int, default=30)
    p.add_argument("--fault", action="append", default=[], help="e.g. payment:slow:2000@10s-20s")
    defaults = Mix()
    p.add_argument("--cancel", type=float, default=defaults.cancel,
                   help="share of orders the customer cancels after paying")
    p.add_argument("--reject", type=float, default=defaults.reject,
                   help="share of paid orders the store rejects")
    p.add_argument("--poll", type=float, default=defaults.poll,
                   help="chance the customer polls the status after each step")
    p.add_argument("--sse", type=float, default=defaults.sse,
                   help="share of orders watched live over SSE")
    p.add_argument("--overload-tries", type=int, default=defaults.overload_tries,
                   help="attempts of a command refused as overloaded (after the advised wait)")
    p.add_argument("--steps", help="overload ramp: offered rates as factors of the capacity")
    p.add_argument("--rates", help="overload ramp: absolute offered rates, new orders/s")
    p.add_argument("--capacity", type=float,
                   help="completed lifecycles/s the --steps refer to (default: measured first)")
    p.add_argument("--probe", type=float, default=10.0,
                   help="seconds of the closed loop that measures the capacity")
    p.add_argument("--step-duration", type=float, default=20.0, help="seconds of each ramp step")
    p.add_argument("--drain", type=float, default=10.0,
                   help="seconds a ramp step's unfinished lifecycles may take after the step")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--report", help="write the JSON report here")
    p.add_argument("--html", help="write the HTML report here")
    p.add_argument("--quiet", action="store_true", help="no live progress")
    return p.parse_args(argv)


@contextlib.asynccontextmanager
async def spawned(args: argparse.Namespace):
    """`run.py serve` on free loopback ports and a temporary data directory."""
    with tempfile.TemporaryDirectory(prefix="delivery-loadtest-") as data_dir:
        port, token = free_port(), "loadtest-admin"
        env = {**os.environ, "DELIVERY_ADMIN_TOKEN": token,
               "DELIVERY_ACTORS_ADMIN_PORT": str(free_port())}
        if args.base:
            env["DELIVERY_ACTORS_BASE"] = args.base
        cmd = [sys.executable, "run.py", "serve", "--port", str(port), "--data-dir", data_dir]
        proc = subprocess.Popen(cmd + (["--config", args.config] if args.config else []),
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_up(f"{url}/ready", 60, proc)
            yield url, token
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def progress(rec: Recorder, client: Client, started: float, duration: float) -> Table:
    now = time.perf_counter() - started
    last = rec.seconds.get(int(now) - 1)
    t = Table(title=f"load test: {now:5.1f} / {duration:g} s", show_header=True)
    for col in ("requests", "req/s (last s)", "errors", "p99 ms (last s)", "in flight",
                "completed", "other outcomes"):
        t.add_column(col, justify="right")
    p99 = last["hist"].get_value_at_percentile(99) / 1000 if last and last["requests"] else None
    others = {k: v for k, v in rec.outcomes.items() if k != "completed"}
    t.add_row(str(rec.all.get_total_count()), str(last["requests"] if last else 0),
              str(sum(rec.errors.values())), fmt_ms(p99), str(client.in_flight),
              str(rec.outcomes["completed"]), json.dumps(others) if others else "-")
    return t


async def run(args: argparse.Namespace, url: str, admin_token: str) -> dict[str, Any]:
    rng = random.Random(args.seed)
    rec = Recorder()
    actions = sorted((a for spec in args.fault for a in faultmod.parse(spec)), key=lambda a: a.at_s)
    if actions and not admin_token:
        raise SystemExit("--fault needs the admin token (--admin-token or DELIVERY_ADMIN_TOKEN)")
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        setup = Client(session, Recorder(), time.perf_counter())
        cast = await register(setup, args.stores, args.customers, args.riders, rng)
        started = time.perf_counter()
        client = Client(session, rec, started, args.overload_tries)
        mix = Mix(cancel=args.cancel, reject=args.reject, poll=args.poll, sse=args.sse,
                  overload_tries=args.overload_tries)
        tasks: set[asyncio.Task] = set()
        stop_at = started + args.duration

        async def lifecycle(k: int, intended: float) -> None:
            outcome = await Lifecycle(client, cast, mix, rng, k).run(intended)
            now = time.perf_counter()
            rec.finished(outcome, now - intended, now - started)

        async def open_model() -> None:
            for k, offset in enumerate(arrivals(args.rate, args.duration, args.ramp_from, args.ramp)):
                due = started + offset
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if rec.all.get_total_count() >= args.max_requests:
                    return
                task = asyncio.create_task(lifecycle(k, due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        async def closed_model() -> None:
            counter = iter(range(10**9))

            async def customer() -> None:
                while time.perf_counter() < stop_at and rec.all.get_total_count() < args.max_requests:
                    await lifecycle(next(counter), time.perf_counter())

            await asyncio.gather(*[customer() for _ in range(args.concurrency)])

        async def fault_schedule() -> None:
            for action in actions:
                await asyncio.sleep(max(0.0, started + action.at_s - time.perf_counter()))
                async with session.post("/admin/api/faults", json=action.body, headers={
                        "Authorization": f"Bearer {admin_token}"}) as r:
                    ok = r.status == 200
                rec.mark(time.perf_counter() - started, action.label + ("" if ok else " (refused)"))

        console = Console(stderr=True)
        live = None if args.quiet else Live(progress(rec, client, started, args.duration),
                                             console=console, refresh_per_second=2)
        faults_task = asyncio.create_task(fault_schedule())
        driver = asyncio.create_task(closed_model() if args.concurrency else open_model())
        with live or contextlib.nullcontext():
            while not driver.done():
                await asyncio.sleep(0.5)
                if live:
                    live.update(progress(rec, client, started, args.duration))
            await driver
            # orders already under way finish (bounded), then the run ends by itself
            deadline = time.perf_counter() + 30
            while tasks and time.perf_counter() < deadline:
                await asyncio.sleep(0.2)
                if live:
                    live.update(progress(rec, client, started, args.duration))
        for task in list(tasks):
            task.cancel()
        faults_task.cancel()
        elapsed = time.perf_counter() - started
    config = {k: v for k, v in vars(args).items() if k not in ("admin_token",)}
    config["url"] = url
    return rec.report(config, elapsed)


def print_summary(report: dict[str, Any], console: Console) -> None:
    t = Table(title="per endpoint (ms)")
    for col in ("endpoint", "count", "p50", "p90", "p99", "p99.9", "max"):
        t.add_column(col, justify="left" if col == "endpoint" else "right")
    for name, s in report["endpoints"].items():
        t.add_row(name, str(s["count"]), *(fmt_ms(s.get(k)) for k in ("p50", "p90", "p99", "p99.9", "max")))
    lat = report["latency_ms"]
    t.add_row("all", str(lat.get("count", 0)), *(fmt_ms(lat.get(k)) for k in ("p50", "p90", "p99", "p99.9", "max")))
    console.print(t)
    if report["errors_by"]:
        e = Table(title="errors")
        for col in ("endpoint", "status", "code", "count"):
            e.add_column(col)
        for row in report["errors_by"]:
            e.add_row(row["endpoint"], str(row["status"]), row["code"], str(row["count"]))
        console.print(e)
    if report["refusals"]:
        console.print(f"{report['refusals']} refusals (503 overloaded, retried after the advised "
                      f"wait): p99 {fmt_ms(report['refusal_ms'].get('p99'))} ms, max "
                      f"{fmt_ms(report['refusal_ms'].get('max'))} ms; by endpoint "
                      f"{json.dumps(report['refusals_by'])}")
    console.print(f"{report['requests']} requests in {report['elapsed_s']} s = "
                  f"{report['requests_per_s']} req/s; {report['errors']} errors; lifecycles "
                  f"{report['lifecycles']}; completed orders/s {report['completed_per_s']}; "
                  f"lifecycle p50 {fmt_ms(report['lifecycle_ms'].get('p50'))} ms "
                  f"p99 {fmt_ms(report['lifecycle_ms'].get('p99'))} ms")


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    drive = _ramp if args.steps or args.rates else run
    if args.spawn:
        async with spawned(args) as (url, token):
            return await drive(args, url, token)
    return await drive(args, args.url, args.admin_token)


async def _ramp(args: argparse.Namespace, url: str, admin_token: str) -> dict[str, Any]:
    console = Console(stderr=True)
    args.on_step = lambda step: console.print(" | ".join(
        f"{c} {v}" for c, v in zip(curve.COLUMNS, curve.row(step), strict=True)))
    return await ramp.ramp(args, url)


def _ramp_main(args: argparse.Namespace) -> int:
    if args.steps:
        ramp.parse_list(args.steps, "--steps")
    report = asyncio.run(_main(args))
    Console().print(curve.table(report))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1))
    if args.html:
        Path(args.html).write_text(curve.render(report))
    return 0 if all(step["errors"] == 0 for step in report["steps"]) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.steps and args.rates:
        raise SystemExit("--steps and --rates exclude each other")
    if args.steps or args.rates:
        return _ramp_main(args)
    for spec in args.fault:
        faultmod.parse(spec)  # a bad specification stops the run before it starts
    report = asyncio.run(_main(args))
    print_summary(report, Console())
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1))
    if args.html:
        Path(args.html).write_text(render(report))
    return 0 if report["errors"] == 0 else 1
