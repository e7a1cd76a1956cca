"""The overload ramp: the same open-model lifecycles at several offered rates, one step after
another, measuring offered load against goodput, refusals and latency (the overload curve).

Rates are absolute (`--rates 80,160,320`) or factors of a capacity (`--steps 0.5,1,2,5`) that is
given (`--capacity N`) or measured first by a short closed loop.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import aiohttp

from .report import run_settings
from .scenario import Client, Lifecycle, Mix, register, routes
from .schedule import arrivals
from .stats import Recorder, summary
from .throttle import throttle_of

PROBE_CLIENTS = 32  # the closed loop that measures capacity, as in the capacity figures


def parse_list(text: str, name: str) -> list[float]:
    """`0.5,1,2` as numbers, each positive; a bad list names the flag."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"{name}: expected numbers separated by commas, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise SystemExit(f"{name}: expected positive numbers, got {text!r}")
    return values


class Stage:
    """What every step shares: the HTTP session, the people and their behaviour."""

    def __init__(self, session: aiohttp.ClientSession, cast: dict, args: argparse.Namespace,
                 admin_token: str = "") -> None:
        self.session, self.cast, self.args, self.admin_token = session, cast, args, admin_token
        self.mix = Mix.of(args)
        self.rng = random.Random(args.seed)
        self.k = 0  # lifecycles so far, so each step's orders go to other customers and stores
        # One client population through every step: its throttle remembers the step before.
        self.throttle = throttle_of(args, self.rng)

    async def lifecycle(self, client: Client, rec: Recorder, intended: float) -> None:
        self.k += 1
        outcome = await Lifecycle(client, self.cast, self.mix, self.rng, self.k).run(intended)
        now = time.perf_counter()
        rec.finished(outcome, now - intended, now - client.started)

    async def closed_loop(self, seconds: float) -> float:
        """Complete lifecycles per second of PROBE_CLIENTS customers ordering back to back."""
        rec = Recorder()
        client = Client(self.session, rec, time.perf_counter(), self.mix.overload_tries,
                        routes(self.cast), self.throttle)
        stop_at = client.started + seconds

        async def customer() -> None:
            while time.perf_counter() < stop_at:
                await self.lifecycle(client, rec, time.perf_counter())

        await asyncio.gather(*[customer() for _ in range(PROBE_CLIENTS)])
        return rec.outcomes["completed"] / (time.perf_counter() - client.started)

    async def circuit_openings(self) -> int | None:
        """How many times the payment circuit has opened so far (None without the admin token)."""
        if not self.admin_token:
            return None
        async with self.session.get("/admin/api/payment", headers={
                "Authorization": f"Bearer {self.admin_token}"}) as r:
            if r.status != 200:
                return None
            return sum(t["to"] == "open" for t in (await r.json())["transitions"])

    async def open_step(self, rate: float, seconds: float) -> dict[str, Any]:
        """New orders at `rate` for `seconds`; those under way may finish within --drain."""
        opened_before = await self.circuit_openings()
        step = await self._open_step(rate, seconds)
        opened_after = await self.circuit_openings()
        step["circuit_openings"] = (None if opened_before is None or opened_after is None
                                    else opened_after - opened_before)
        return step

    async def _open_step(self, rate: float, seconds: float) -> dict[str, Any]:
        rec = Recorder()
        client = Client(self.session, rec, time.perf_counter(), self.mix.overload_tries,
                        routes(self.cast), self.throttle)
        tasks: set[asyncio.Task] = set()
        for offset in arrivals(rate, seconds):
            due = client.started + offset
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if rec.all.get_total_count() >= self.args.max_requests:
                break
            task = asyncio.create_task(self.lifecycle(client, rec, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        unfinished = 0
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.args.drain)
            unfinished = len(pending)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        return step_figures(rec, rate, seconds, time.perf_counter() - client.started, unfinished)


def step_figures(rec: Recorder, rate: float, seconds: float, elapsed: float,
                 unfinished: int) -> dict[str, Any]:
    """One point of the curve; rates are per second of offered load (the step's duration)."""
    report = rec.report({}, elapsed)
    timeouts = sum(n for (_, status, code), n in rec.errors.items()
                   if status == 503 and code == "service_unavailable")
    return {
        "offered_per_s": rate, "duration_s": seconds, "elapsed_s": round(elapsed, 2),
        "completed": rec.outcomes["completed"],
        "goodput_per_s": round(rec.outcomes["completed"] / seconds, 2),
        "lifecycles": dict(rec.outcomes), "unfinished": unfinished,
        "requests": report["requests"], "requests_per_s": round(report["requests"] / seconds, 1),
        "refusals": report["refusals"], "refusals_per_s": round(report["refusals"] / seconds, 1),
        "refusals_by": report["refusals_by"], "errors": report["errors"],
        "throttled": report["throttled"],
        "throttled_per_s": round(report["throttled"] / seconds, 1),
        "bridge_timeouts": timeouts, "errors_by": report["errors_by"],
        "latency_ms": report["latency_ms"], "refusal_ms": report["refusal_ms"],
        "lifecycle_ms": summary(rec.lifecycle),
        "full_goodput_after_s": full_goodput_after(rec, rate),
    }


def full_goodput_after(rec: Recorder, rate: float, share: float = 0.8) -> int | None:
    """The first second of the step in which completions reached `share` of the offered rate:
    after an overload, how long until the node serves a normal load fully again."""
    for second in sorted(rec.seconds):
        if rec.seconds[second]["completed"] >= share * rate:
            return second
    return None


async def ramp(args: argparse.Namespace, url: str, admin_token: str = "") -> dict[str, Any]:
    """Every step of the ramp against the service at `url`; the JSON report."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=0),
                                     timeout=timeout) as session:
        setup = Client(session, Recorder(), time.perf_counter())
        cast = await register(setup, args.stores, args.customers, args.riders,
                              random.Random(args.seed), admin_token, urls=getattr(args, "url", None))
        stage = Stage(session, cast, args, admin_token)
        capacity, source = args.capacity, "given"
        if args.rates:
            rates = parse_list(args.rates, "--rates")
        else:
            if capacity is None:
                capacity, source = await stage.closed_loop(args.probe), "measured"
            rates = [round(f * capacity, 1) for f in parse_list(args.steps, "--steps")]
        steps = []
        for rate in rates:
            step = await stage.open_step(rate, args.step_duration)
            step["load_factor"] = round(rate / capacity, 2) if capacity else None
            steps.append(step)
            if getattr(args, "on_step", None):
                args.on_step(step)
    config = run_settings(args)
    return {"kind": "overload_ramp", "url": url, "config": config,
            "capacity_per_s": round(capacity, 1) if capacity else None,
            "capacity_source": source if capacity else None, "steps": steps}
