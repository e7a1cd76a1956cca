"""The people of a load test: customers, store owners and riders each playing their part of an
order's life against the REST API, plus the read traffic around it."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from .chaos import Outage
from .stats import Recorder
from .throttle import AdaptiveThrottle

CENTRE = (37.4979, 127.0276)  # Gangnam station: everyone is within a rider's radius


@dataclass
class Party:
    id: str
    token: str
    extra: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    """The node this party talks to ("": the session's only one)."""


def routes(cast: dict[str, list[Party]]) -> dict[str, str]:
    """Bearer token -> the node its party talks to, for the parties spread over several."""
    return {p.token: p.url for parties in cast.values() for p in parties if p.url}


@dataclass
class Mix:
    """How people behave: probabilities per order."""

    cancel: float = 0.05     # the customer cancels right after paying
    reject: float = 0.05     # the store rejects a paid order
    browse: float = 0.2      # the customer looks at stores and a menu first
    poll: float = 0.5        # the customer polls the order's status after each step
    sse: float = 0.05        # the customer watches the order live (SSE)
    pay_retries: int = 3     # payment attempts on 503 before the customer gives up
    overload_tries: int = 4  # attempts of a command refused as overloaded before giving up

    @classmethod
    def of(cls, args: Any) -> Mix:
        """The mix the command line asks for (`run.py loadtest` flags)."""
        return cls(cancel=args.cancel, reject=args.reject, poll=args.poll, sse=args.sse,
                   overload_tries=args.overload_tries)


def overloaded(status: int, data: Any) -> bool:
    """A refusal by the node's admission control (503 `overloaded`)."""
    return status == 503 and isinstance(data, dict) and data.get("code") == "overloaded"


def advised_wait_s(data: Any, headers: dict) -> float:
    """The wait a refusal advises: the precise body field, else the Retry-After header."""
    if isinstance(data, dict) and isinstance(data.get("retry_after_s"), int | float):
        return float(data["retry_after_s"])
    try:
        return float(headers.get("Retry-After", "1"))
    except ValueError:
        return 1.0


class Client:
    """Sends requests and records them; latency runs from the intended start."""

    def __init__(self, session: aiohttp.ClientSession, recorder: Recorder, started: float,
                 overload_tries: int = Mix.overload_tries,
                 routes: dict[str, str] | None = None,
                 throttle: AdaptiveThrottle | None = None) -> None:
        self.session, self.recorder, self.started = session, recorder, started
        self.routes = routes or {}  # a party's requests go to its own node (`--url` x N)
        self.overload_tries = overload_tries
        self.throttle = throttle  # refuses some commands locally while the node refuses many
        self.advised: dict[str, float] = {}  # endpoint -> the wait its last refusal advised
        self.in_flight = 0
        self.outage: Outage | None = None  # set by a chaos run: clients ride through kills
        self.seen: dict[str, set[str]] = {}  # order id -> statuses the service acknowledged

    async def call(self, method: str, path: str, endpoint: str, token: str | None = None,
                   body: dict | None = None, intended: float | None = None) -> tuple[int, Any, dict]:
        status, data, headers, _ = await self.call_through(method, path, endpoint, token, body,
                                                           intended)
        return status, data, headers

    async def call_through(self, method: str, path: str, endpoint: str, token: str | None = None,
                           body: dict | None = None, intended: float | None = None,
                           headers: dict | None = None) -> tuple[int, Any, dict, bool]:
        """As `call`, and True when the request met the service killed and was sent again.

        A request the node refuses as overloaded is sent again after the advised wait (at most
        `overload_tries` attempts, each recorded)."""
        rode = False
        for attempt in range(1, self.overload_tries + 1):
            if self.throttle is not None and self.throttle.refuse(endpoint):
                # Refused here, as the node would likely have: the same wait, no request.
                self.recorder.throttled(endpoint, time.perf_counter() - self.started)
                status, data, response_headers = 503, {"code": "overloaded", "local": True}, {}
                wait_s = self.advised.get(endpoint, 1.0)
            else:
                status, data, response_headers, again = await self._attempt(
                    method, path, endpoint, token, body, intended, headers, rode)
                rode = rode or again
                refused = overloaded(status, data)
                if self.throttle is not None and status != 0:
                    self.throttle.answered(endpoint, accepted=not refused)
                if refused:
                    wait_s = self.advised[endpoint] = advised_wait_s(data, response_headers)
            if not overloaded(status, data) or attempt == self.overload_tries:
                return status, data, response_headers, rode
            await asyncio.sleep(min(10.0, wait_s))
            intended = None
        raise AssertionError("unreachable: the loop returns on its last attempt")

    async def _attempt(self, method: str, path: str, endpoint: str, token: str | None,
                       body: dict | None, intended: float | None,
                       headers: dict | None, rode_before: bool = False) -> tuple[int, Any, dict, bool]:
        """One attempt, riding through an outage: a request that meets the service killed waits
        for it to be back and is sent again; True when that happened. `rode_before`: an earlier
        attempt of the same command met a kill (then refused as overloaded, and tried again)."""
        intended = intended if intended is not None else time.perf_counter()
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        rode = False
        while True:
            sent = time.perf_counter()
            status, data, response_headers = await self._send(method, self.at(path, token),
                                                              body, headers)
            # A kill meets a request as a lost connection (the whole service) or as 503
            # service_unavailable (the actor process alone, while its front door restarts it).
            met = status == 0 or (status == 503 and isinstance(data, dict)
                                  and data.get("code") == "service_unavailable")
            if not met or self.outage is None or not self.outage.covers(sent):
                break
            self.recorder.during_kill(endpoint, data.get("code", "connection_error"))
            await self.outage.over()
            rode, intended = True, time.perf_counter()
        done = time.perf_counter()
        failed = status == 0 or status >= 400
        code = data.get("code", "") if failed and isinstance(data, dict) else ""
        # A refusal of a resent command is no failure yet: the attempt the kill cut off may
        # have committed, and the caller checks the order.
        ambiguous = (rode or rode_before) and 400 <= status < 500
        if ambiguous:
            self.recorder.during_kill(endpoint, f"{status} {code} on resending")
        self.recorder.request(endpoint, status, code, done - intended, done - self.started,
                              error=failed and not ambiguous)
        if 200 <= status < 300 and isinstance(data, dict) and "history" in data:
            self.seen.setdefault(data["id"], set()).add(data["status"])
        return status, data, response_headers, rode

    def at(self, path: str, token: str | None) -> str:
        """Where a request of the party holding `token` goes."""
        return self.routes.get(token, "") + path if token else path

    async def _send(self, method: str, path: str, body: dict | None,
                    headers: dict) -> tuple[int, Any, dict]:
        self.in_flight += 1
        try:
            if body is not None:  # orjson: the harness's own CPU is the service's competition
                headers = {**headers, "Content-Type": "application/json"}
            async with self.session.request(method, path, headers=headers, data=None if body is None
                                            else orjson.dumps(body)) as r:
                raw = await r.read()
                return r.status, _json(raw), r.headers
        except (TimeoutError, aiohttp.ClientError, OSError):
            return 0, {"code": "connection_error"}, {}
        finally:
            self.in_flight -= 1


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


async def register(client: Client, stores: int, customers: int, riders: int,
                   rng: random.Random, admin_token: str = "",
                   urls: list[str] | None = None) -> dict[str, list[Party]]:
    """The cast: stores with menus, customers and riders around one neighbourhood; stores and
    riders left pending (onboarding.auto_approve off) are approved with the admin token. With
    several `urls` (nodes), each kind is spread over them round-robin: party i talks to node
    i mod N from its registration on (Lifecycle k takes customer, store and rider k mod their
    counts, so with the default counts and 2 nodes one lifecycle stays on one node)."""
    nodes = [u.rstrip("/") for u in urls] if urls and len(urls) > 1 else [""]

    def near() -> dict[str, float]:
        return {"lat": CENTRE[0] + rng.uniform(-0.008, 0.008),
                "lon": CENTRE[1] + rng.uniform(-0.008, 0.008)}

    cast: dict[str, list[Party]] = {"stores": [], "customers": [], "riders": []}
    for i in range(stores):
        url = nodes[i % len(nodes)]
        status, d, _ = await client.call("POST", url + "/stores", "POST /stores", body={
            "name": f"Load store {i}", "owner_phone": "010-0000-0000", "location": near(),
            "menu": [{"name": "Chicken", "price": 18000}, {"name": "Cola", "price": 2000}]})
        if status != 201:
            raise RuntimeError(f"could not register a store: {status} {d}")
        await _approve(client, "stores", d, admin_token)
        cast["stores"].append(Party(d["id"], d["token"], url=url))
    for kind, n in (("customers", customers), ("riders", riders)):
        for i in range(n):
            location, url = near(), nodes[i % len(nodes)]
            status, d, _ = await client.call("POST", f"{url}/{kind}", f"POST /{kind}", body={
                "name": f"{kind[:-1]} {i}", "phone": "010-1111-1111", "location": location})
            if status != 201:
                raise RuntimeError(f"could not register {kind[:-1]}: {status} {d}")
            await _approve(client, kind, d, admin_token)
            cast[kind].append(Party(d["id"], d["token"], {"location": location}, url))
    return cast


async def _approve(client: Client, kind: str, registered: dict, admin_token: str) -> None:
    if registered.get("status", "approved") == "approved":
        return  # customers, and everyone when the service approves at once
    if not admin_token:
        raise RuntimeError(f"the {kind[:-1]} registered is {registered['status']}: give the admin "
                           "token (--admin-token) or run the service with onboarding.auto_approve")
    path = f"/admin/api/{kind}/{registered['id']}/approve"
    status, d, _ = await client.call("POST", path, f"POST /admin/api/{kind}/{{id}}/approve",
                                     admin_token)
    if status != 200:
        raise RuntimeError(f"could not approve {kind[:-1]} {registered['id']}: {status} {d}")


def lost(status: int, data: Any) -> str:
    """How a lifecycle ends on an unexpected answer: given up under overload, else failed."""
    return "abandoned" if overloaded(status, data) else "failed"


class Lifecycle:
    """One order from browsing to confirmed delivery (or cancel, reject, abandon)."""

    def __init__(self, client: Client, cast: dict[str, list[Party]], mix: Mix,
                 rng: random.Random, k: int) -> None:
        self.c, self.mix, self.rng = client, mix, rng
        self.customer = cast["customers"][k % len(cast["customers"])]
        self.store = cast["stores"][k % len(cast["stores"])]
        self.rider = cast["riders"][k % len(cast["riders"])]

    async def run(self, intended: float) -> str:
        c, ct = self.c, self.customer.token
        if self.rng.random() < self.mix.browse:
            await c.call("GET", f"/stores?lat={CENTRE[0]}&lon={CENTRE[1]}", "GET /stores",
                         intended=intended)
            intended = None
            await c.call("GET", f"/stores/{self.store.id}/menu", "GET /stores/{id}/menu")
        location = self.customer.extra["location"]
        # Under chaos the key makes a resent order land on the one the kill may have committed.
        key = {"Idempotency-Key": uuid.UUID(int=self.rng.getrandbits(128)).hex} if c.outage else {}
        status, order, _, _ = await c.call_through("POST", "/orders", "POST /orders", ct, {
            "store_id": self.store.id, "items": [{"menu_item_id": "m1", "quantity": 1},
                                                 {"menu_item_id": "m2", "quantity": 2}],
            "delivery_address": {**location, "text": "load test"}}, intended, key)
        if status != 201:
            return "refused" if overloaded(status, order) else "failed"  # never placed
        oid = order["id"]
        watcher = asyncio.create_task(self.watch(oid)) if self.rng.random() < self.mix.sse else None
        try:
            return await self._after_placing(oid)
        finally:
            if watcher:
                watcher.cancel()

    async def _after_placing(self, oid: str) -> str:
        c, ct, st, sid = self.c, self.customer.token, self.store.token, self.store.id
        if not await self.pay(oid):
            # Giving up, the customer cancels, as the app does: an order left unpaid counts
            # against the customer's cap (orders.max_unpaid) until the system expires it.
            await c.call("POST", f"/orders/{oid}/cancel", "POST /orders/{id}/cancel", ct,
                         {"reason": "gave up paying"})
            return "abandoned"
        await self.poll(oid)
        if self.rng.random() < self.mix.cancel:
            lost_as = await self.step(oid, f"/orders/{oid}/cancel", "POST /orders/{id}/cancel", ct,
                                      "cancelled", {"reason": "changed my mind"})
            return lost_as or "cancelled"
        if self.rng.random() < self.mix.reject:
            lost_as = await self.step(oid, f"/stores/{sid}/orders/{oid}/reject",
                                      "POST /stores/{id}/orders/{id}/reject", st, "rejected",
                                      {"reason": "busy"})
            return lost_as or "rejected"
        for step, target in (("accept", "accepted"), ("start-cooking", "cooking"),
                             ("finish-cooking", "cooked")):
            lost_as = await self.step(oid, f"/stores/{sid}/orders/{oid}/{step}",
                                      f"POST /stores/{{id}}/orders/{{id}}/{step}", st, target)
            if lost_as:
                return lost_as
            await self.poll(oid)
        await c.call("GET", "/riders/me/deliveries/available", "GET /riders/me/deliveries/available",
                     self.rider.token)
        lost_as = await self.step(oid, f"/deliveries/{oid}/pick", "POST /deliveries/{id}/pick",
                                  self.rider.token, "picked_up")
        if lost_as:
            return lost_as
        await self.poll(oid)
        lost_as = await self.step(oid, f"/orders/{oid}/confirm-delivery",
                                  "POST /orders/{id}/confirm-delivery", ct, "completed")
        return lost_as or "completed"

    async def step(self, oid: str, path: str, endpoint: str, token: str, target: str,
                   body: dict | None = None) -> str | None:
        """One command of the order's life: None when the order reached `target`, else how the
        lifecycle ends (abandoned under overload, failed otherwise)."""
        status, data, _, rode = await self.c.call_through("POST", path, endpoint, token, body)
        if status == 200:
            return None
        if not rode or status >= 500:
            return lost(status, data)
        # Refused on resending after a kill: did the first attempt commit before it?
        status, view, _ = await self.c.call("GET", f"/orders/{oid}", "GET /orders/{id}",
                                            self.customer.token)
        history = view.get("history", []) if status == 200 and isinstance(view, dict) else []
        return None if any(h.get("status") == target for h in history) else "failed"

    async def pay(self, oid: str) -> bool:
        for _ in range(self.mix.pay_retries):
            status, data, headers = await self.c.call(
                "POST", f"/orders/{oid}/payment", "POST /orders/{id}/payment", self.customer.token,
                {"method": "card", "card_token": "tok_visa"})
            if status == 200 or (status == 409 and isinstance(data, dict)
                                 and data.get("code") == "already_paid"):
                return True  # a retry after a timed-out attempt that went through
            if status != 503 or overloaded(status, data):
                return False  # refused past the client's patience already (Client.call)
            await asyncio.sleep(min(5.0, float(headers.get("Retry-After", "1"))))
        return False

    async def poll(self, oid: str) -> None:
        if self.rng.random() < self.mix.poll:
            await self.c.call("GET", f"/orders/{oid}", "GET /orders/{id}", self.customer.token)

    async def watch(self, oid: str) -> None:
        """An SSE watcher following the order until it ends (cancelled with the lifecycle)."""
        started = time.perf_counter()
        try:
            path = self.c.at(f"/orders/{oid}/events", self.customer.token)
            async with self.c.session.get(path, headers={
                    "Authorization": f"Bearer {self.customer.token}"}) as r:
                first = True
                async for raw in r.content:
                    if first and raw.startswith(b"data:"):
                        now = time.perf_counter()
                        self.c.recorder.request("GET /orders/{id}/events (first event)", r.status,
                                                "", now - started, now - self.c.started)
                        first = False
        except (TimeoutError, aiohttp.ClientError):
            pass
