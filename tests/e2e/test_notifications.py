"""The KakaoTalk requirement: a webhook receiver that is down for a while loses nothing."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from delivery.http.app import create_app
from tests.conftest import make_settings

from .conftest import ADMIN, Api


class Receiver:
    """An AlimTalk-like receiver under the test's control; deduplicates by message_id."""

    def __init__(self) -> None:
        self.down = True
        self.refused = 0
        self.taken: list[dict] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/alimtalk", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if self.down:
            self.refused += 1
            return web.json_response({"error": "maintenance"}, status=503)
        self.taken.append(body)
        return web.json_response({"result": "ok"})


async def test_a_webhook_down_for_a_while_receives_every_notice_exactly_once_later(
        aiohttp_client, aiohttp_server, tmp_path):
    receiver = Receiver()
    server = await aiohttp_server(receiver.app())
    settings = make_settings(tmp_path / "data", **{
        "notifications.channels": ["log", "webhook"],
        "notifications.webhook_url": str(server.make_url("/alimtalk"))})
    api = Api(await aiohttp_client(create_app(settings, ADMIN)))
    (_, ct), (sid, st) = await api.customer(), await api.store()
    started = time.monotonic()
    oid = await api.cooked(ct, sid, st)  # placed, paid, accepted, cooking, cooked
    took = time.monotonic() - started
    assert took < 2.0  # the failing webhook does not slow the order flow
    await asyncio.sleep(1.0)
    assert receiver.refused > 0 and receiver.taken == []
    _, stats = await api.json("GET", "/admin/api/stats", ADMIN, status=200)
    assert stats["notifications"]["failed"] > 0 and stats["outbox"]["webhook_pending"] == 6
    _, mine = await api.json("GET", "/customers/me/notifications", ct, status=200)
    assert {(n["channel"], n["delivered"]) for n in mine["notifications"]} == {("webhook", False)}
    receiver.down = False
    deadline = time.monotonic() + 15
    while len(receiver.taken) < 6 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    ids = [m["message_id"] for m in receiver.taken]
    assert len(ids) == len(set(ids)) == 6  # 5 customer notices + the owner's new order
    customer = [m for m in receiver.taken if m["recipient_kind"] == "customer"]
    assert {m["template_code"] for m in customer} == {
        "order_placed", "order_paid", "order_accepted", "cooking_started", "cooking_finished"}
    owner = [m for m in receiver.taken if m["recipient_kind"] == "store"]
    assert [m["template_code"] for m in owner] == ["new_order"]
    m = customer[0]
    assert m["recipient_no"] == "010-1" and m["buttons"][0]["link_mobile"] == f"/orders/{oid}"
    assert "\n" in m["text"]  # Korean, then English
    _, stats = await api.json("GET", "/admin/api/stats", ADMIN, status=200)
    assert stats["outbox"]["webhook_pending"] == 0 and stats["notifications"]["sent"] == 6
    _, mine = await api.json("GET", "/customers/me/notifications", ct, status=200)
    assert all(n["delivered"] for n in mine["notifications"])
