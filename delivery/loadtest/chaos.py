"""Chaos for a load test: a seeded random schedule of faults (payment crash/slow/fail, store
down/crash, SIGKILL of the actor process, SIGKILL of the whole service with a restart) and the
outage clients ride through."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

import aiohttp

from .faults import FaultAction, parse
from .service import SpawnedService

PAYMENT_DELAYS_MS = (300, 800, 2000)  # under, just over and far over the default call timeout
QUIET_TAIL = 0.2  # the last fifth of the run has no fault: the service settles under load


def schedule(seed: int, duration_s: float, store_ids: list[str]) -> list[str]:
    """Fault specifications (see faults.parse) for a run: one kill a minute (at least one), and
    about one other fault every five seconds, each kind in turn in a shuffled order."""
    rng = random.Random(f"chaos-{seed}")
    start, end = min(3.0, duration_s * 0.1), duration_s * (1 - QUIET_TAIL)
    if end - start < 2:
        return []
    kills = max(1, round(duration_s / 60))
    span = (end - start) / kills
    specs = [f"service:kill@{start + span * (i + rng.uniform(0.3, 0.7)):.1f}s" for i in range(kills)]
    kinds = ["payment:crash", "payment:slow", "payment:fail", "store:down", "store:crash",
             "actors:kill"]
    count = max(len(kinds), int(duration_s / 5))
    order = [kind for _ in range(count // len(kinds) + 1) for kind in rng.sample(kinds, len(kinds))]
    for kind in order[:count]:
        at = rng.uniform(start, end - 1)
        until = min(end, at + rng.uniform(1.5, 8.0))
        specs.append(_spec(kind, at, until, rng, store_ids))
    return specs


def _spec(kind: str, at: float, until: float, rng: random.Random, store_ids: list[str]) -> str:
    window = f"@{at:.1f}s-{until:.1f}s"
    if kind in ("payment:crash", "actors:kill"):
        return f"{kind}@{at:.1f}s"
    if kind == "payment:slow":
        return f"payment:slow:{rng.choice(PAYMENT_DELAYS_MS)}{window}"
    if kind == "payment:fail":
        return f"payment:fail:{rng.uniform(0.2, 0.8):.2f}{window}"
    store = rng.choice(store_ids)
    return f"store:{store}:down{window}" if kind == "store:down" else f"store:{store}:crash@{at:.1f}s"


def actions(specs: list[str]) -> list[FaultAction]:
    return sorted((a for spec in specs for a in parse(spec)), key=lambda a: a.at_s)


class Outage:
    """When the service is down on purpose; requests that meet it wait for it to be over."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.up.set()
        self.began = float("-inf")
        self.downtimes: list[float] = []

    def begin(self) -> None:
        self.up.clear()
        self.began = time.perf_counter()

    def end(self) -> None:
        self.downtimes.append(round(time.perf_counter() - self.began, 3))
        self.up.set()

    def covers(self, sent_at: float) -> bool:
        """Whether a request sent at `sent_at` that found no server met the outage."""
        return not self.up.is_set() or self.began >= sent_at

    async def over(self) -> None:
        await self.up.wait()


class Tally:
    """Faults injected by kind (and those the service refused or could not take)."""

    def __init__(self) -> None:
        self.injected: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def record(self, action: FaultAction, ok: bool) -> None:
        if action.kind:
            (self.injected if ok else self.refused)[action.kind] += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"injected": dict(sorted(self.injected.items())),
                "refused": dict(sorted(self.refused.items()))}


async def kill_and_restart(service: SpawnedService, outage: Outage) -> float:
    """SIGKILL the whole service and start it again on the same data; seconds it was down."""
    outage.begin()
    try:
        service.kill()
        await service.start()
    finally:
        outage.end()
    return outage.downtimes[-1]


async def kill_actors_and_wait(service: SpawnedService, outage: Outage) -> float | None:
    """SIGKILL the service's actor process and wait until its front door has started it again
    (ready); seconds that took. None: the service runs its actors in its own process."""
    outage.begin()
    try:
        if not await service.kill_actors():
            return None
    finally:
        outage.end()
    return outage.downtimes[-1]


async def settle(session: aiohttp.ClientSession, token: str, timeout_s: float) -> dict[str, Any]:
    """Clear every fault and wait until the outbox is empty (refunds made, every consumer level
    with the journal); the outbox as last seen."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline, outbox = time.monotonic() + timeout_s, {}
    cleared = False
    while time.monotonic() < deadline:
        try:
            if not cleared:
                async with session.post("/admin/api/faults", json={"target": "all", "kind": "clear"},
                                        headers=headers) as r:
                    cleared = r.status == 200
            async with session.get("/admin/api/stats", headers=headers) as r:
                outbox = (await r.json())["outbox"] if r.status == 200 else outbox
        except (aiohttp.ClientError, TimeoutError):
            pass
        if cleared and outbox and not any(outbox.values()):
            return {"settled": True, "outbox": outbox}
        await asyncio.sleep(0.25)
    return {"settled": False, "outbox": outbox}


# Answers to a customer paying again after a 503: the earlier attempt is still under way, or
# went through late (the provider answered after the call timeout and the order recorded it).
# And the unpaid-order cap: while payment faults keep customers from paying, their unpaid orders
# pile up and new ones are refused, as designed (issue 12).
EXPECTED_CODES = ("payment_in_progress", "already_paid", "too_many_unpaid_orders")


def unexpected_errors(report: dict[str, Any]) -> int:
    """Errors that no injected fault explains: anything but a 503 (pay or try later) and the
    answers to paying again after one."""
    return sum(e["count"] for e in report["errors_by"]
               if e["status"] != 503 and e["code"] not in EXPECTED_CODES)
