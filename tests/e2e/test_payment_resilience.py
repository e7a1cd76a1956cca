"""Payment through a real HTTP provider that slows down and fails: the breaker answers at once,
orders stay payable, and the system heals by itself."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from delivery.http.app import create_app
from tests.conftest import make_settings

from .conftest import ADMIN, Api


class Provider:
    """A payment provider under the test's control, idempotent by Idempotency-Key."""

    def __init__(self) -> None:
        self.delay_s, self.failing = 0.0, False
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.calls = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/charges", self.charge)
        app.router.add_post("/refunds", self.refund)
        return app

    async def charge(self, request: web.Request) -> web.Response:
        return await self._handle(request, self.charges, "pay")

    async def refund(self, request: web.Request) -> web.Response:
        return await self._handle(request, self.refunds, "re")

    async def _handle(self, request: web.Request, ledger: dict, prefix: str) -> web.Response:
        self.calls += 1
        body = await request.json()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failing:
            return web.json_response({"error": "overloaded"}, status=503)
        key = request.headers["Idempotency-Key"]
        if key not in ledger:
            declined = body.get("card_token") == "tok_declined"
            ledger[key] = {"id": f"{prefix}_{len(ledger) + 1}", "approved": not declined,
                           "reason": "declined" if declined else "", "amount": body["amount"]}
        return web.json_response(ledger[key])


@pytest.fixture
async def setup(aiohttp_client, aiohttp_server, tmp_path):
    provider = Provider()
    server = await aiohttp_server(provider.app())
    settings = make_settings(tmp_path / "data", **{
        "payment.provider": "http", "payment.provider_url": str(server.make_url("/")),
        "payment.call_timeout_ms": 200, "payment.breaker.failure_threshold": 3})
    api = Api(await aiohttp_client(create_app(settings, ADMIN)))
    customer = await api.customer()
    store = await api.store()
    return api, provider, customer, store


async def pay(api, token, oid):
    started = time.perf_counter()
    r, data = await api.json("POST", f"/orders/{oid}/payment", token,
                             {"method": "card", "card_token": "tok_visa"})
    return r, data, time.perf_counter() - started


async def new_order(api, customer, store):
    _, order = await api.place(customer[1], store[0], status=201)
    return order["id"]


async def payment_status(api):
    return (await api.json("GET", "/admin/api/payment", ADMIN, status=200))[1]


async def open_the_circuit(api, provider, customer, store):
    """Fail payments until the breaker opens; returns the orders that stayed unpaid."""
    orders = []
    for _ in range(3):
        oid = await new_order(api, customer, store)
        r, data, _ = await pay(api, customer[1], oid)
        assert r.status == 503 and data["code"] == "payment_unavailable"
        orders.append(oid)
    assert (await payment_status(api))["circuit"]["state"] == "open"
    return orders


@pytest.mark.parametrize("fault", ["slow", "errors"])
async def test_a_sick_provider_opens_the_circuit_and_recovery_closes_it(setup, fault):
    api, provider, customer, store = setup
    oid = await new_order(api, customer, store)
    r, _, _ = await pay(api, customer[1], oid)
    assert r.status == 200 and provider.charges  # healthy to begin with
    if fault == "slow":
        provider.delay_s = 0.35  # beyond the 200 ms call timeout
    else:
        provider.failing = True
    unpaid = await open_the_circuit(api, provider, customer, store)
    calls_when_opened = provider.calls
    # while open: refused at once, well under the call timeout, with Retry-After
    for _ in range(5):
        oid = await new_order(api, customer, store)
        r, data, took = await pay(api, customer[1], oid)
        assert r.status == 503 and data["code"] == "payment_unavailable"
        assert int(r.headers["Retry-After"]) >= 1 and took < 0.1
        unpaid.append(oid)
    assert provider.calls == calls_when_opened  # the provider was spared
    for oid in unpaid:  # nothing lost: every order is still there, placed and unpaid
        _, view = await api.json("GET", f"/orders/{oid}", customer[1], status=200)
        assert (view["status"], view["payment"]["status"]) == ("placed", "unpaid")
    provider.delay_s, provider.failing = 0.0, False
    deadline = time.monotonic() + 5
    while True:  # after the reset timeout a trial passes, then payments succeed again
        r, _, _ = await pay(api, customer[1], unpaid[0])
        if r.status == 200 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert r.status == 200
    for oid in unpaid[1:]:
        r, data, _ = await pay(api, customer[1], oid)
        assert r.status == 200, data
    status = await payment_status(api)
    assert status["circuit"]["state"] == "closed"
    moves = [(t["from"], t["to"]) for t in status["transitions"]]
    # opened once, zero or more failed trials, then a trial that closed it
    assert moves[0] == ("closed", "open") and moves[-2:] == [("open", "half_open"),
                                                          ("half_open", "closed")]
    assert set(moves[1:-2]) <= {("open", "half_open"), ("half_open", "open")}
    assert len(provider.charges) == 1 + len(unpaid)  # one charge per order, none twice


async def test_a_refund_while_the_circuit_is_open_stays_pending_then_completes(setup):
    api, provider, customer, store = setup
    oid = await new_order(api, customer, store)
    r, _, _ = await pay(api, customer[1], oid)
    assert r.status == 200
    provider.failing = True
    await open_the_circuit(api, provider, customer, store)
    _, view = await api.json("POST", f"/orders/{oid}/cancel", customer[1], {"reason": "x"}, status=200)
    assert view["payment"]["status"] == "refund_pending"
    await asyncio.sleep(0.3)
    _, view = await api.json("GET", f"/orders/{oid}", customer[1], status=200)
    assert view["payment"]["status"] == "refund_pending" and not provider.refunds
    provider.failing = False
    deadline = time.monotonic() + 10
    while view["payment"]["status"] != "refunded" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        _, view = await api.json("GET", f"/orders/{oid}", customer[1], status=200)
    assert view["payment"]["status"] == "refunded", (await payment_status(api), provider.calls, provider.refunds)
    assert list(provider.refunds) == [f"refund:{oid}"]


async def test_payment_faults_through_the_admin_api(api, parties):
    ct, sid = parties["c1"][1], parties["s1"][0]
    _, faults = await api.json("POST", "/admin/api/faults", ADMIN,
                               {"target": "payment", "kind": "fail", "rate": 1.0}, status=200)
    assert faults["faults"] == [{"target": "payment", "kind": "fail", "rate": 1.0}]
    _, order = await api.place(ct, sid, status=201)
    r, data = await api.json("POST", f"/orders/{order['id']}/payment", ct,
                             {"method": "card", "card_token": "t"})
    assert r.status == 503 and data["code"] == "payment_unavailable"
    _, faults = await api.json("POST", "/admin/api/faults", ADMIN,
                               {"target": "all", "kind": "clear"}, status=200)
    assert faults["faults"] == []
    await api.json("POST", f"/orders/{order['id']}/payment", ct,
                   {"method": "card", "card_token": "t"}, status=200)
    for bad, field in (({"target": "moon", "kind": "crash"}, "target"),
                       ({"target": "payment", "kind": "melt"}, "kind"),
                       ({"target": "payment", "kind": "slow"}, "delay_ms"),
                       ({"target": "payment", "kind": "fail", "rate": 2}, "rate")):
        r, data = await api.json("POST", "/admin/api/faults", ADMIN, bad)
        assert r.status == 422 and data["field"] == field
    await api.json("POST", "/admin/api/faults", ct, {"target": "all", "kind": "clear"}, status=403)


async def test_a_crashed_gateway_is_restarted_and_payments_go_on(api, parties):
    ct, sid = parties["c1"][1], parties["s1"][0]
    await api.json("POST", "/admin/api/faults", ADMIN, {"target": "payment", "kind": "crash"},
                   status=200)
    _, order = await api.place(ct, sid, status=201)
    r, data = await api.json("POST", f"/orders/{order['id']}/payment", ct,
                             {"method": "card", "card_token": "t"})
    assert r.status == 503 and data["code"] == "payment_unavailable"  # died on this one
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r, data = await api.json("POST", f"/orders/{order['id']}/payment", ct,
                                 {"method": "card", "card_token": "t"})
        if r.status == 200:
            break
        await asyncio.sleep(0.05)
    assert r.status == 200
    status = (await api.json("GET", "/admin/api/payment", ADMIN, status=200))[1]
    assert status["gateway"]["restarts"] == 1 and status["gateway"]["state"] == "up"
    metrics = await (await api.http.get("/metrics")).text()
    assert "delivery_payment_gateway_restarts 1.0" in metrics
    assert 'delivery_payment_circuit_state{state="closed"} 1.0' in metrics
