"""Failures of the machinery answer with problem documents: 503 when the actors are gone, a 500
problem with a request id (never a stack trace) for a bug."""

from __future__ import annotations

import logging

from aiohttp import web

from delivery.http.admission import AdmissionControl
from delivery.http.front import front_door
from delivery.http.hardening import SecurityHeaders
from delivery.http.keys import RUNTIME
from delivery.http.metrics import Metrics
from tests.conftest import make_settings

from .conftest import HOME


async def test_a_stopped_actor_system_is_a_503_not_a_hang(api, parties):
    ct, sid = parties["c1"][1], parties["s1"][0]
    api.http.app[RUNTIME].stop()
    r, data = await api.json("POST", "/orders", ct, {
        "store_id": sid, "items": [{"menu_item_id": "m1", "quantity": 1}], "delivery_address": HOME})
    assert r.status == 503 and data["code"] == "service_unavailable"
    assert int(r.headers["Retry-After"]) >= 1
    r, data = await api.json("GET", "/ready")
    assert r.status == 503
    await api.json("GET", "/health", status=200)  # the process still serves


async def test_a_bug_is_a_500_problem_with_a_request_id_and_is_logged(aiohttp_client, caplog,
                                                                     tmp_path):
    async def broken(request: web.Request) -> web.Response:
        raise KeyError("secret internals")

    settings = make_settings(tmp_path)
    front = front_door(settings, Metrics(), AdmissionControl(settings.admission),
                       SecurityHeaders(frozenset()))
    app = web.Application(middlewares=[front])
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="delivery.http"):
        r = await client.get("/broken", headers={"X-Request-Id": "req-42"})
    data = await r.json(content_type=None)
    assert r.status == 500 and data["code"] == "internal_error" and data["request_id"] == "req-42"
    assert "secret internals" not in str(data) and "Traceback" not in str(data)
    assert any("req-42" in rec.getMessage() and rec.exc_info for rec in caplog.records)
