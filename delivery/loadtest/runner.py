"""`python run.py loadtest`: drive the real HTTP service with real order lifecycles.

Open model (`--rate`, optionally `--ramp-from` over `--ramp`): new orders arrive on schedule
whether or not earlier ones finished, and latency counts from each request's intended send time.
Closed model (`--concurrency N`): N customers order back to back. The run stops by itself after
`--duration` seconds or `--max-requests` requests. `--spawn` starts the service on a temporary
data directory; `--fault payment:slow:2000@10s-20s` calls the admin fault API during the run.
`--spawn --chaos` injects a seeded random schedule of faults, SIGKILLs and restarts included,
lets everything settle, stops the service and audits its data directory (exit 1 on a violation).
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
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.live import Live
from rich.table import Table

from .. import cli
from ..audit.run import audit_data_dir, summary
from . import chaos, costs, curve, database, plots, ramp
from . import faults as faultmod
from .report import render, run_settings
from .scenario import Client, Lifecycle, Mix, register, routes
from .schedule import arrivals
from .service import SpawnedService
from .stats import Recorder, fmt_ms
from .throttle import throttle_of


def cpu_list(text: str) -> tuple[int, ...]:
    """CPUs as taskset takes them: "0", "0,2", "1-3"."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a CPU list: {text!r} (e.g. 0 or 0,1 or 1-3)") \
            from None
    available = os.sched_getaffinity(0)
    if not cpus or not cpus <= available:
        raise argparse.ArgumentTypeError(f"CPUs {sorted(cpus)} are not all among this "
                                         f"machine's {sorted(available)}")
    return tuple(sorted(cpus))  # as the report writes it


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = cli.parser("run.py loadtest", __doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", action="append", help="a running service, e.g. "
                        "http://127.0.0.1:8080; what the run registers stays there; repeated for "
                        "several nodes, customers, stores and riders are spread over them "
                        "round-robin (no default: --url or --spawn is required)")
    target.add_argument("--spawn", action="store_true",
                        help="start the service on a throwaway data directory, removed after")
    p.add_argument("--workers", type=int, default=1,
                   help="--spawn: node processes of the service (serve --workers; more than 1 "
                        "needs PostgreSQL) (default: 1)")
    p.add_argument("--storage-url", help="--spawn: the service's storage.url (default: "
                   "DELIVERY_STORAGE_URL, else SQLite); 'auto': a fresh PostgreSQL database on "
                   "--pg-server, dropped after the run. --url: the nodes' PostgreSQL database, "
                   "read only for the transactions per lifecycle")
    p.add_argument("--pg-server", default=database.SERVER,
                   help="--storage-url auto: a database of the server to create it from "
                        "(default: %(default)s)")
    p.add_argument("--config", help="TOML overlay for --spawn (default: none)")
    p.add_argument("--base", help="actor system base for --spawn (default: the config's)")
    p.add_argument("--admin-token", default=os.environ.get("DELIVERY_ADMIN_TOKEN", ""),
                   help="needed for --fault against --url (default DELIVERY_ADMIN_TOKEN)")
    p.add_argument("--rate", type=float, default=10.0, help="new orders per second (open model)")
    p.add_argument("--ramp-from", type=float,
                   help="start the rate here and ramp to --rate (default: no ramp)")
    p.add_argument("--ramp", type=float, default=0.0, help="seconds of the ramp")
    p.add_argument("--concurrency", type=int,
                   help="closed model: N customers back to back (default: open model at --rate)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    p.add_argument("--max-requests", type=int, default=1_000_000, help="stop after this many")
    p.add_argument("--stores", type=int, default=10, help="stores the run registers")
    p.add_argument("--customers", type=int, default=100, help="customers the run registers")
    p.add_argument("--riders", type=int, default=30, help="riders the run registers")
    p.add_argument("--fault", action="append", default=[], help="a fault on a schedule, e.g. payment:slow:2000@10s-20s "
                   "(repeatable; default: none)")
    defaults = Mix()
    p.add_argument("--cancel", type=float, default=defaults.cancel,
                   help="share of orders the customer cancels after paying")
    p.add_argument("--reject", type=float, default=defaults.reject,
                   help="share of paid orders the store rejects")
    p.add_argument("--poll", type=float, default=defaults.poll,
                   help="chance the customer polls the status after each step")
    p.add_argument("--sse", type=float, default=defaults.sse,
                   help="share of orders watched live over SSE")
    p.add_argument("--seed", type=int, default=1, help="of the customers and the chaos schedule")
    p.add_argument("--chaos", action="store_true", help="with --spawn: random faults and kills, "
                   "then an audit of the data directory")
    p.add_argument("--data-dir", help="with --spawn: keep the service's data here (default: a "
                   "temporary directory)")
    p.add_argument("--settle", type=float, default=90.0,
                   help="--chaos: seconds to wait for the outbox to drain before the audit")
    p.add_argument("--overload-tries", type=int, default=defaults.overload_tries,
                   help="attempts of a command refused as overloaded (after the advised wait)")
    p.add_argument("--client-throttle", type=float, default=2.0,
                   help="clients' adaptive throttling (Google SRE): while the nodes refuse many "
                        "commands, a client sends about K per accepted one and refuses the rest "
                        "itself, as if refused (0: off, every command is sent)")
    p.add_argument("--throttle-window", type=float, default=2.0,
                   help="seconds of answers the clients' throttle looks back on")
    p.add_argument("--steps", help="overload ramp: offered rates as factors of the capacity, "
                   "e.g. 0.5,1,2,5 (default: no ramp)")
    p.add_argument("--rates", help="overload ramp: absolute offered rates, new orders/s, "
                   "e.g. 80,160,320 (default: no ramp)")
    p.add_argument("--capacity", type=float,
                   help="completed lifecycles/s the --steps refer to (default: measured first)")
    p.add_argument("--probe", type=float, default=10.0,
                   help="seconds of the closed loop that measures the capacity")
    p.add_argument("--step-duration", type=float, default=20.0, help="seconds of each ramp step")
    p.add_argument("--drain", type=float, default=10.0,
                   help="seconds a ramp step's unfinished lifecycles may take after the step")
    p.add_argument("--report", help="write the JSON report here (default: none)")
    p.add_argument("--html", help="write the HTML report here (default: none)")
    p.add_argument("--quiet", action="store_true", help="no live progress")
    p.add_argument("--server-cpus", type=cpu_list, help="with --spawn: pin the service to these "
                   "CPUs, e.g. 0 (Linux taskset), so that the harness on the same machine does "
                   "not take its cores (default: not pinned)")
    p.add_argument("--client-cpus", type=cpu_list, help="pin the harness itself to these CPUs, "
                   "e.g. 1 (default: not pinned)")
    return p.parse_args(argv)


@contextlib.contextmanager
def data_directory(path: str | None):
    """The data directory of a spawned service: the one asked for (kept), else a temporary one."""
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="delivery-loadtest-") as tmp:
        yield Path(tmp)


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


async def run(args: argparse.Namespace, url: str, admin_token: str,
              service: SpawnedService | None = None,
              seen: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """One load test; `seen` collects the order statuses the service acknowledged."""
    rng = random.Random(args.seed)
    rec = Recorder()
    specs = list(args.fault)
    if specs and not admin_token:
        raise SystemExit("--fault needs the admin token (--admin-token or DELIVERY_ADMIN_TOKEN)")
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        setup = Client(session, Recorder(), time.perf_counter())
        cast = await register(setup, args.stores, args.customers, args.riders, rng, admin_token,
                              urls=args.url)
        if args.chaos:
            specs += chaos.schedule(args.seed, args.duration, [s.id for s in cast["stores"]])
        actions, tally = chaos.actions(specs), chaos.Tally()
        urls = args.url or [url]
        storage_url = getattr(args, "storage_url", None)
        workers = getattr(args, "workers", 1) if service else 1
        before = await costs.snapshot(session, urls, admin_token, storage_url, workers)
        started = time.perf_counter()
        client = Client(session, rec, started, args.overload_tries, routes(cast),
                        throttle_of(args, random.Random(args.seed)))
        client.seen = seen if seen is not None else client.seen
        if service and any(a.body in faultmod.KILLS for a in actions):
            client.outage = chaos.Outage()
        kills: list[dict[str, Any]] = []
        mix = Mix.of(args)
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

        async def inject(action: faultmod.FaultAction) -> bool:
            if action.body == faultmod.KILL:
                at = round(time.perf_counter() - started, 3)
                # shielded: a run ending meanwhile must not leave the service half restarted
                kills.append({"at_s": at, "downtime_s": await asyncio.shield(
                    chaos.kill_and_restart(service, client.outage))})
                return True
            if action.body == faultmod.KILL_ACTORS:
                at = round(time.perf_counter() - started, 3)
                down = await asyncio.shield(chaos.kill_actors_and_wait(service, client.outage))
                if down is not None:
                    kills.append({"at_s": at, "downtime_s": down, "actors_only": True})
                return down is not None
            try:
                async with session.post("/admin/api/faults", json=action.body, headers={
                        "Authorization": f"Bearer {admin_token}"}) as r:
                    return r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False  # the service is down: the fault is not injected

        async def fault_schedule() -> None:
            for action in actions:
                await asyncio.sleep(max(0.0, started + action.at_s - time.perf_counter()))
                ok = await inject(action)
                tally.record(action, ok)
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
        await _finish(faults_task, client.outage)
        elapsed = time.perf_counter() - started
        after = await costs.snapshot(session, urls, admin_token, storage_url, workers)
        settled = await chaos.settle(session, admin_token, args.settle) if args.chaos else None
    config = run_settings(args)
    config["url"] = url
    report = rec.report(config, elapsed)
    report["costs"] = {"before": before, "after": after, "per_lifecycle": costs.per_lifecycle(
        before, after, sum(report["lifecycles"].values()))}
    if args.chaos:
        report["chaos"] = {"seed": args.seed, "schedule": specs, "faults": tally.as_dict(),
                           "kills": kills, **settled}
    return report


async def _finish(faults_task: asyncio.Task, outage: chaos.Outage | None) -> None:
    """Stop the fault schedule; a restart under way is let finish, so the service is up after."""
    faults_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await faults_task
    if outage is not None:
        await outage.over()


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
    counted = {k: v for k, v in report.get("costs", {}).get("per_lifecycle", {}).items()
               if v is not None}
    if counted:
        console.print("per lifecycle: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                                     for k, v in counted.items()))


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    ramping = bool(args.steps or args.rates)
    if not args.spawn:
        return await (_ramp if ramping else run)(args, args.url[0], args.admin_token)
    with data_directory(args.data_dir) as data_dir, \
            database.storage(args.storage_url, args.pg_server) as storage_url:
        return await _spawned(args, data_dir, storage_url, ramping)


async def _spawned(args: argparse.Namespace, data_dir: Path, storage_url: str,
                   ramping: bool) -> dict[str, Any]:
    """A run against the service spawned on its storage; stopped (and audited, with --chaos)
    after."""
    service = SpawnedService(data_dir, args.config, args.base, args.server_cpus,
                             args.workers, storage_url)
    args.storage_url = storage_url  # `auto` made one: the run counts its commits
    seen: dict[str, set[str]] = {}
    try:
        await service.start()
        if ramping:
            return await _ramp(args, service.url, service.token)
        report = await run(args, service.url, service.token, service, seen)
    finally:
        service.stop()
    if storage_url and not args.chaos:  # stopped: every session has published its counts
        spent = report["costs"]
        spent["after"].update(costs.storage_counters(storage_url))
        spent["per_lifecycle"] = costs.per_lifecycle(spent["before"], spent["after"],
                                                     sum(report["lifecycles"].values()))
    if args.chaos:
        # Stopped: nothing is in flight any more, so every order is audited.
        audited = audit_data_dir(storage_url or data_dir, seen=seen)
        report["chaos"]["audit"] = {**audited.as_dict(), "summary": summary(audited)}
        report["chaos"]["unexpected_errors"] = chaos.unexpected_errors(report)
    return report


def chaos_verdict(report: dict[str, Any], console: Console) -> int:
    """Print the faults by kind, the outage and the audit; 1 on a violation or on an error
    that no injected fault explains."""
    c = report["chaos"]
    t = Table(title=f"faults injected (seed {c['seed']})")
    for col in ("kind", "injected", "refused"):
        t.add_column(col, justify="left" if col == "kind" else "right")
    for kind in sorted(set(c["faults"]["injected"]) | set(c["faults"]["refused"])):
        t.add_row(kind, str(c["faults"]["injected"].get(kind, 0)),
                  str(c["faults"]["refused"].get(kind, 0)))
    console.print(t)
    downtime = sum(k["downtime_s"] for k in c["kills"])
    console.print(f"kills {len(c['kills'])} (down {downtime:.1f} s in all); requests during a "
                  f"kill {report['during_kill']['requests']} (not failures); errors no fault "
                  f"explains {c['unexpected_errors']}; settled {c['settled']}")
    for violation in c["audit"]["violations"]:
        console.print(violation, markup=False, highlight=False)
    console.print(c["audit"]["summary"], markup=False, highlight=False)
    return 0 if c["audit"]["ok"] and c["unexpected_errors"] == 0 else 1


async def _ramp(args: argparse.Namespace, url: str, admin_token: str) -> dict[str, Any]:
    console = Console(stderr=True)
    args.on_step = lambda step: console.print(" | ".join(
        f"{c} {v}" for c, v in zip(curve.COLUMNS, curve.row(step), strict=True)))
    return await ramp.ramp(args, url, admin_token)


def _ramp_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    if args.steps:
        ramp.parse_list(args.steps, "--steps")
    report = plots.stamped(asyncio.run(_main(args)), argv)
    Console().print(curve.table(report))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1))
    if args.html:
        Path(args.html).write_text(curve.render(report))
    return 0 if all(step["errors"] == 0 for step in report["steps"]) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.server_cpus and not args.spawn:
        raise SystemExit("--server-cpus needs --spawn: the harness pins the service it starts")
    if args.client_cpus:
        os.sched_setaffinity(0, args.client_cpus)
    if args.spawn:
        args.storage_url = database.chosen(args.storage_url, args.workers)
    elif args.storage_url == database.AUTO or args.workers != 1:
        raise SystemExit("--storage-url auto and --workers need --spawn")
    if args.steps and args.rates:
        raise SystemExit("--steps and --rates exclude each other")
    if args.steps or args.rates:
        return _ramp_main(args, argv)
    # A bad specification stops the run before it starts.
    actions = [action for spec in args.fault for action in faultmod.parse(spec)]
    if args.chaos and not args.spawn:
        raise SystemExit("--chaos needs --spawn: it kills and restarts the service it owns")
    if not args.spawn and any(action.body in faultmod.KILLS for action in actions):
        raise SystemExit("service:kill and actors:kill need --spawn")
    report = plots.stamped(asyncio.run(_main(args)), argv)
    print_summary(report, Console())
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1))
    if args.html:
        Path(args.html).write_text(render(report))
    if args.chaos:
        return chaos_verdict(report, Console())
    return 0 if report["errors"] == 0 else 1
