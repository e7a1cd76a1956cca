"""Admission control at the front door: commands beyond the node's adaptive limit are refused at
once with `503 overloaded`, before any actor work; reads, streams and operations always pass."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..config import AdmissionSettings
from ..domain.admission import (
    CLASSES,
    NEW_ORDER,
    ORDER_COMMAND,
    REGISTRATION,
    AdaptiveLimit,
    LimitSettings,
    QueueSource,
)
from .problems import Problem

REGISTRATIONS = {"/customers", "/stores", "/riders"}
# Operations, the admin and the contract: never refused, neither here nor by the rate limits.
NEVER_REFUSED = ("/admin", "/health", "/ready", "/metrics", "/openapi.json")
READS = ("GET", "HEAD", "OPTIONS")
# The advised wait grows as criticality falls, so the most critical commands come back first.
RETRY_SCALE = {ORDER_COMMAND: 1.0, NEW_ORDER: 2.0, REGISTRATION: 4.0}


def criticality(method: str, path: str) -> str | None:
    """The class of a request by its method and route; None: never counted nor refused.

    Every write that is neither a registration nor a new order acts on something that exists
    already (an order's next step, a rider's position for a pick), so it is the most critical.
    """
    if method in READS or path.startswith(NEVER_REFUSED):
        return None
    if method == "POST" and path in REGISTRATIONS:
        return REGISTRATION
    if method == "POST" and path == "/orders":
        return NEW_ORDER
    return ORDER_COMMAND


def _nothing_queued() -> tuple[int, float]:
    return 0, 0.0


class AdmissionControl:
    """The limiter of one node and its advice to refused clients (front.py asks it)."""

    def __init__(self, config: AdmissionSettings, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.enabled = config.enabled
        self.retry_after_s = config.retry_after_ms / 1000
        self.limiter = AdaptiveLimit(LimitSettings.from_config(config), clock, _nothing_queued)
        self.rng = rng or random.Random()

    def attach(self, queue: QueueSource) -> None:
        """Measure the queue of an actor system that has started."""
        self.limiter.queue = queue

    def advice_s(self, criticality: str) -> float:
        """Seconds a refused client should wait, jittered so that refused clients spread out."""
        return round(self.retry_after_s * RETRY_SCALE[criticality] * self.rng.uniform(0.5, 1.5), 3)

    def admit(self, request: web.Request) -> bool:
        """Take a slot for a command, or refuse it (`503 overloaded`, with Retry-After); whether
        a slot was taken, to be given back by `release` when the command is answered."""
        resource = request.match_info.route.resource
        kind = criticality(request.method, resource.canonical) if resource is not None else None
        if kind is None or not self.enabled:
            return False
        if not self.limiter.admit(kind):
            wait = self.advice_s(kind)
            raise Problem("overloaded", f"the node is overloaded ({self.limiter.in_flight} "
                          f"commands in flight, limit {int(self.limiter.limit)}); "
                          f"retry in {wait} s", retry_after=wait)
        return True

    def release(self) -> None:
        self.limiter.release()

    def snapshot(self) -> dict[str, Any]:
        return {"enabled": self.enabled, **self.limiter.snapshot()}


class AdmissionCollector:
    """Prometheus figures of admission control, read when scraped."""

    def __init__(self, control: AdmissionControl) -> None:
        self.control = control

    def collect(self) -> Iterator[Any]:
        limiter = self.control.limiter
        yield GaugeMetricFamily("delivery_admission_limit", "Commands the node admits in flight",
                                value=int(limiter.limit))
        yield GaugeMetricFamily("delivery_admission_in_flight", "Admitted commands in flight",
                                value=limiter.in_flight)
        yield GaugeMetricFamily("delivery_admission_queue_delay_seconds",
                                "Mean wait for the actor thread in the last interval",
                                value=limiter.queue_delay_s)
        admitted = CounterMetricFamily("delivery_admission_admitted", "Commands admitted",
                                       labels=["class"])
        refused = CounterMetricFamily("delivery_admission_refused",
                                      "Commands refused as overloaded", labels=["class"])
        for kind in CLASSES:
            admitted.add_metric([kind], limiter.admitted[kind])
            refused.add_metric([kind], limiter.refused[kind])
        yield admitted
        yield refused
