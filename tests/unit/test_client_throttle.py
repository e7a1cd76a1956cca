"""The load-test clients' adaptive throttling (Google SRE, "Handling Overload"): held back in
proportion to what the service refused lately, nothing while it accepts, and forgotten within
the window once it accepts again."""

from __future__ import annotations

import random
import time

import aiohttp
import pytest
from aiohttp import web

from delivery.loadtest.scenario import Client
from delivery.loadtest.stats import Recorder
from delivery.loadtest.throttle import AdaptiveThrottle


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_nothing_is_held_back_while_the_service_accepts():
    clock = Clock()
    throttle = AdaptiveThrottle(2.0, 2.0, random.Random(1), clock)
    for _ in range(1000):
        assert not throttle.refuse("POST /orders")
        throttle.answered("POST /orders", accepted=True)
        clock.t += 0.001
    assert throttle.probability("POST /orders") == 0.0


def test_a_client_refused_mostly_sends_about_k_requests_per_accepted_one():
    clock = Clock()
    throttle = AdaptiveThrottle(2.0, 2.0, random.Random(2), clock)
    sent = accepted = 0
    capacity_left, second = 0, -1
    for i in range(20_000):  # ten seconds of 2,000 wanted requests/s; the service takes 100/s
        if int(clock.t) != second:
            second, capacity_left = int(clock.t), 100
        if not throttle.refuse("POST /orders"):
            ok = capacity_left > 0
            capacity_left -= ok
            throttle.answered("POST /orders", accepted=ok)
            if i >= 4000:  # after the first two seconds (one window)
                sent, accepted = sent + 1, accepted + ok
        clock.t += 0.0005
    assert accepted == pytest.approx(800, abs=20)  # the service stays busy: ~100/s taken
    assert 1.7 <= sent / accepted <= 2.3  # ~k requests sent per accepted one, not 20
    assert throttle.probability("POST /orders") > 0.8
    assert throttle.probability("POST /payment") == 0.0  # kinds are kept apart


def test_the_throttle_forgets_the_overload_within_its_window():
    clock = Clock()
    throttle = AdaptiveThrottle(2.0, 2.0, random.Random(4), clock)
    for _ in range(500):
        throttle.answered("POST /orders", accepted=False)
    assert throttle.probability("POST /orders") > 0.99
    clock.t += 2.01
    assert throttle.probability("POST /orders") == 0.0


def test_k_below_one_is_refused():
    with pytest.raises(ValueError, match="k must be at least 1"):
        AdaptiveThrottle(0.5)


async def test_a_held_back_command_is_not_sent_and_is_answered_as_a_refusal(aiohttp_server):
    hits = []

    async def refuse(request: web.Request) -> web.Response:
        hits.append(time.perf_counter())
        return web.json_response({"code": "overloaded", "retry_after_s": 0.01}, status=503,
                                 headers={"Retry-After": "1"})

    app = web.Application()
    app.router.add_post("/orders", refuse)
    server = await aiohttp_server(app)
    clock = Clock()
    throttle = AdaptiveThrottle(2.0, 2.0, random.Random(5), clock)
    recorder = Recorder()
    async with aiohttp.ClientSession(str(server.make_url(""))) as session:
        client = Client(session, recorder, time.perf_counter(), overload_tries=2, throttle=throttle)
        for _ in range(40):
            status, data, _ = await client.call("POST", "/orders", "POST /orders", body={})
            assert status == 503 and data["code"] == "overloaded"
    report = recorder.report({}, 1.0)
    assert report["throttled"] > 0 and report["throttled_by"] == {"POST /orders": report["throttled"]}
    assert len(hits) == report["refusals"] == 80 - report["throttled"]  # held back: never sent
    assert report["errors"] == 0


async def test_a_conflict_after_a_kill_and_an_overload_refusal_is_not_counted_as_an_error(
        aiohttp_server):
    """A command whose first attempt met a kill (it may have committed), resent and refused as
    overloaded, then tried again and answered 409: ambiguous, like a 409 on the resend itself."""
    from delivery.loadtest.chaos import Outage

    answers = iter(["drop", "overloaded", "conflict"])

    async def handler(request: web.Request) -> web.StreamResponse:
        what = next(answers)
        if what == "drop":  # the kill: the connection goes without an answer
            outage.begin()
            request.transport.close()
            outage.end()
            return web.Response()
        if what == "overloaded":
            return web.json_response({"code": "overloaded", "retry_after_s": 0.01}, status=503)
        return web.json_response({"code": "invalid_transition"}, status=409)

    app = web.Application()
    app.router.add_post("/orders/o1/confirm-delivery", handler)
    server = await aiohttp_server(app)
    outage, recorder = Outage(), Recorder()
    async with aiohttp.ClientSession(str(server.make_url(""))) as session:
        client = Client(session, recorder, time.perf_counter(), overload_tries=3)
        client.outage = outage
        status, data, _, rode = await client.call_through(
            "POST", "/orders/o1/confirm-delivery", "POST /orders/{id}/confirm-delivery")
    assert (status, data["code"], rode) == (409, "invalid_transition", True)
    report = recorder.report({}, 1.0)
    assert report["errors"] == 0, report["errors_by"]
    assert ("POST /orders/{id}/confirm-delivery", "409 invalid_transition on resending") in \
        recorder.killed
