"""Kill every process of the service with SIGKILL in the middle of a burst of orders, start it
again on the same data directory: every acknowledged order is there, tokens work, the outbox
resumes and nothing is applied twice. The same on both actor system bases."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import aiohttp
import pytest
from aiohttp import web

from delivery.actors.system import PID_FILE, session_pids
from tests.conftest import ROOT, free_port

ADMIN = "crash-safety-admin-token-0123"

ORDER_FLOW = ["placed", "paid", "accepted", "cooking", "cooked", "picked_up", "completed"]


class Receiver:
    def __init__(self) -> None:
        self.taken: dict[str, int] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        message_id = json.loads(await request.read())["message_id"]
        self.taken[message_id] = self.taken.get(message_id, 0) + 1
        return web.json_response({"ok": True})


class Service:
    """`python run.py serve` as a user runs it, in its own process group."""

    def __init__(self, data_dir, base: str, hook: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {**os.environ, "DELIVERY_ACTORS_BASE": base, "DELIVERY_ADMIN_TOKEN": ADMIN,
                    "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
                    "DELIVERY_NOTIFICATIONS_CHANNELS": "log,webhook",
                    "DELIVERY_NOTIFICATIONS_WEBHOOK_URL": hook}
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "run.py", "serve", "--port", str(self.port), "--data-dir",
             str(self.data_dir), "--config", "config/fast-tests.toml"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                try:
                    async with s.get(f"{self.url}/ready") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("service did not become ready")

    def kill_everything(self) -> None:
        """SIGKILL the server's process group and, on multiprocTCPBase, the admin's session."""
        pid_file = self.data_dir / PID_FILE
        admin_sid = int(pid_file.read_text()) if pid_file.exists() else None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if admin_sid:
            for pid in session_pids(admin_sid):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


async def _post(s, url, token, body=None):
    async with s.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize("base", ["simpleSystemBase", "multiprocTCPBase"])
async def test_sigkill_mid_burst_loses_no_acknowledged_order(aiohttp_server, tmp_path, base):
    receiver = Receiver()
    hook = await aiohttp_server(receiver.app())
    svc = Service(tmp_path / "data", base, str(hook.make_url("/hook")))
    await svc.start()
    acked: dict[str, str] = {}
    try:
        async with aiohttp.ClientSession(svc.url) as s:
            _, cust = await _post(s, "/customers", None, {"name": "Kim", "phone": "010-1",
                                                          "location": {"lat": 37.5, "lon": 127.0}})
            _, store = await _post(s, "/stores", None, {
                "name": "S", "owner_phone": "010-2", "location": {"lat": 37.5, "lon": 127.0},
                "menu": [{"name": "Rice", "price": 1000}]})
            ct, sid, st = cust["token"], store["id"], store["token"]

            async def customer_loop(i: int) -> None:
                while True:
                    try:
                        status, order = await _post(s, "/orders", ct, {
                            "store_id": sid, "items": [{"menu_item_id": "m1", "quantity": 1}],
                            "delivery_address": {"lat": 37.5, "lon": 127.0, "text": "x"}})
                        if status != 201:
                            continue
                        acked[order["id"]] = "placed"
                        status, view = await _post(s, f"/orders/{order['id']}/payment", ct,
                                                   {"method": "card", "card_token": "t"})
                        if status == 200:
                            acked[order["id"]] = "paid"
                        if i % 2:
                            status, view = await _post(
                                s, f"/stores/{sid}/orders/{order['id']}/accept", st)
                            if status == 200:
                                acked[order["id"]] = "accepted"
                    except (TimeoutError, aiohttp.ClientError):
                        return

            burst = [asyncio.create_task(customer_loop(i)) for i in range(8)]
            deadline = time.monotonic() + 10  # the kill comes once a part was acknowledged
            while len(acked) < 10 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            svc.kill_everything()
            await asyncio.wait_for(asyncio.gather(*burst), 10)
    except BaseException:
        if svc.proc and svc.proc.poll() is None:
            svc.kill_everything()
        raise
    assert len(acked) >= 10, "the burst should have been acknowledged in part"
    await svc.start()  # the same data directory
    try:
        async with aiohttp.ClientSession(svc.url) as s:
            for oid, status in acked.items():
                async with s.get(f"/orders/{oid}", headers={"Authorization": f"Bearer {ct}"}) as r:
                    assert r.status == 200  # the token still works, the order is there
                    view = await r.json()
                # its last acknowledged status, or the next one if that command was in flight
                assert ORDER_FLOW.index(view["status"]) - ORDER_FLOW.index(status) in (0, 1), \
                    (oid, status, view["status"])
            paid = {oid for oid, st_ in acked.items() if st_ != "placed"}
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:  # the outbox resumes: the store gets every one
                async with s.get(f"/stores/{sid}/inbox",
                                 headers={"Authorization": f"Bearer {st}"}) as r:
                    received = [x["order_id"] for x in (await r.json())["received"]]
                if paid <= set(received):
                    break
                await asyncio.sleep(0.1)
            assert paid <= set(received) and len(received) == len(set(received))
            async with s.get("/admin/api/stats", headers={"Authorization": f"Bearer {ADMIN}"}) as r:
                stats = await r.json()
            deadline = time.monotonic() + 15
            while stats["outbox"]["webhook_pending"] and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                async with s.get("/admin/api/stats", headers={"Authorization": f"Bearer {ADMIN}"}) as r:
                    stats = await r.json()
            assert stats["outbox"]["webhook_pending"] == 0
            async with s.get("/customers/me/notifications",
                             headers={"Authorization": f"Bearer {ct}"}) as r:
                notices = (await r.json())["notifications"]
            ids = [n["id"] for n in notices]
            assert len(ids) == len(set(ids))  # none twice in the read model
            assert {n["id"] for n in notices} <= set(receiver.taken)  # every one reached the hook
        assert svc.stop() == 0  # and SIGTERM stops it cleanly
    finally:
        if svc.proc.poll() is None:
            svc.kill_everything()
    if base == "multiprocTCPBase":
        assert not (svc.data_dir / PID_FILE).exists()
