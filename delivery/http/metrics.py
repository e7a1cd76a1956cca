"""Prometheus metrics of the front door and the actor system."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from ..actors.messages import ActorStats
from .history import History

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Answered:
    """HTTP requests answered, by route, method and status, and the time they took by route and
    method: the figures of a prometheus Counter and Histogram (same names, same exposition),
    counted in plain lists, since the library's per-request locking and label lookups cost
    ~5 % of a read's capacity. Counted on the event loop's thread only."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        self.times: dict[tuple[str, str], list] = {}  # [bucket counts..., +Inf count, sum]

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        times = self.times.get((route, method))
        if times is None:
            times = self.times[(route, method)] = [0] * (len(BUCKETS) + 1) + [0.0]
        times[bisect.bisect_left(BUCKETS, seconds)] += 1
        times[-1] += seconds

    def collect(self) -> Iterator[Any]:
        answered = CounterMetricFamily("delivery_http_requests", "HTTP requests answered",
                                       labels=["route", "method", "status"])
        for (route, method, status), n in list(self.counts.items()):
            answered.add_metric([route, method, str(status)], n)
        yield answered
        took = HistogramMetricFamily("delivery_http_request_duration_seconds",
                                     "Time to answer an HTTP request", labels=["route", "method"])
        for labels, times in list(self.times.items()):
            cumulative = list(itertools.accumulate(times[:-1]))
            took.add_metric(list(labels), [(floatToGoString(b), n) for b, n in
                                           zip((*BUCKETS, math.inf), cumulative, strict=True)],
                            times[-1])
        yield took


class Metrics:
    """One registry per application, so that several apps in one process never mix figures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.answered = Answered()
        r.register(self.answered)
        self.actor_messages = Gauge("delivery_actor_messages",
                                    "Messages received by actors since start (passivated included)",
                                    registry=r)
        self.live_actors = Gauge("delivery_live_actors", "Live actors by kind", ["kind"], registry=r)
        self.live_entities = Gauge("delivery_live_entities", "Live entity actors by kind", ["kind"],
                                   registry=r)
        self.in_flight = Gauge("delivery_bridge_in_flight", "Requests awaiting an actor reply",
                               registry=r)
        self.circuit = Gauge("delivery_payment_circuit_state",
                             "1 for the payment circuit's current state", ["state"], registry=r)
        self.circuit_failures = Gauge("delivery_payment_circuit_failures",
                                      "Consecutive failed provider calls", registry=r)
        self.gateway_restarts = Gauge("delivery_payment_gateway_restarts",
                                      "Restarts of the payment gateway since start", registry=r)
        self.streams = Gauge("delivery_sse_streams", "Open Server-Sent Events streams", registry=r)
        self.history = History()

    def observe_actors(self, stats: ActorStats) -> None:
        self.actor_messages.set(sum(a.messages_in for a in stats.actors) + stats.retired_messages)
        kinds: dict[str, int] = {}
        for actor in stats.actors:
            kinds[actor.kind] = kinds.get(actor.kind, 0) + 1
        for kind, n in kinds.items():
            self.live_actors.labels(kind).set(n)
        for kind, n in stats.live.items():
            self.live_entities.labels(kind).set(n)

    def observe_payment(self, status: dict) -> None:
        for state in ("closed", "open", "half_open"):
            self.circuit.labels(state).set(1 if status["circuit"]["state"] == state else 0)
        self.circuit_failures.set(status["circuit"]["failures"])
        self.gateway_restarts.set(status["gateway"]["restarts"])

    def observe(self, request: web.Request, status: int, took: float) -> None:
        """Count an answered request (the front door's middleware, front.py, calls it)."""
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        self.answered.observe(route, request.method, status, took)
        self.history.observe(route, request.method, status, took)
