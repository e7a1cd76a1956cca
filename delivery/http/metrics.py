"""Prometheus metrics of the front door and the actor system."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..actors.messages import ActorStats
from .history import History

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One registry per application, so that several apps in one process never mix figures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("delivery_http_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("delivery_http_request_duration_seconds",
                                 "Time to answer an HTTP request", ["route", "method"],
                                 buckets=BUCKETS, registry=r)
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
        # (route, method, status) -> the histogram's and the counter's children: looking a
        # child up by its labels (validation, a lock) cost more than observing it.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

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

    def _child(self, key: tuple[str, str, int]) -> tuple[Any, Any]:
        route, method, status = key
        children = (self.latency.labels(route, method),
                    self.requests.labels(route, method, str(status)))
        self._children[key] = children
        return children

    def middleware(self):
        @web.middleware
        async def measure(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
            started = time.perf_counter()
            response = await handler(request)
            info = request.match_info.route.resource
            route = info.canonical if info is not None else "unmatched"
            took = time.perf_counter() - started
            key = (route, request.method, response.status)
            children = self._children.get(key) or self._child(key)
            children[0].observe(took)
            children[1].inc()
            self.history.observe(route, request.method, response.status, took)
            return response
        return measure
