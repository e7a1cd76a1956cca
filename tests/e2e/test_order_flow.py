"""The whole order lifecycle and the catalogue through HTTP only."""

from __future__ import annotations

import asyncio

import msgpack

from .conftest import ADMIN, HOME


async def test_a_complete_order_through_http_only(api, parties):
    (_cid, ct), (sid, st), (rid, rt) = parties["c1"], parties["s1"], parties["r1"]
    r, order = await api.place(ct, sid, status=201)
    oid = order["id"]
    assert r.headers["Location"] == f"/orders/{oid}"
    assert (order["status"], order["total"], order["payment"]["status"]) == ("placed", 22000, "unpaid")
    steps = [("POST", f"/orders/{oid}/payment", ct, {"method": "card", "card_token": "tok_visa"}, "paid"),
             ("POST", f"/stores/{sid}/orders/{oid}/accept", st, None, "accepted"),
             ("POST", f"/stores/{sid}/orders/{oid}/start-cooking", st, None, "cooking"),
             ("POST", f"/stores/{sid}/orders/{oid}/finish-cooking", st, None, "cooked"),
             ("POST", f"/deliveries/{oid}/pick", rt, None, "picked_up"),
             ("POST", f"/orders/{oid}/confirm-delivery", ct, None, "completed")]
    for method, path, token, body, status in steps:
        _, view = await api.json(method, path, token, body, status=200)
        assert view["status"] == status
        # read-your-writes: the read model already shows the change
        _, read = await api.json("GET", f"/orders/{oid}", ct, status=200)
        assert read["version"] >= view["version"] and read["status"] == status
    assert read["rider_id"] == rid and [h["status"] for h in read["history"]] == [
        "placed", "paid", "accepted", "cooking", "cooked", "picked_up", "completed"]
    _, mine = await api.json("GET", "/customers/me/orders", ct, status=200)
    assert [o["id"] for o in mine["orders"]] == [oid]
    await asyncio.sleep(0.1)  # notices are written just after the reply
    _, notes = await api.json("GET", "/customers/me/notifications", ct, status=200)
    assert [n["kind"] for n in notes["notifications"]][0] == "delivery_confirmed"
    assert len(notes["notifications"]) == 7
    _, owner = await api.json("GET", f"/stores/{sid}/notifications", st, status=200)
    assert [n["kind"] for n in owner["notifications"]] == ["new_order"]


async def test_cancel_refunds_and_reject_refunds(api, parties):
    (_cid, ct), (sid, st) = parties["c1"], parties["s1"]
    for action in ("cancel", "reject"):
        _, order = await api.place(ct, sid, status=201)
        oid = order["id"]
        await api.json("POST", f"/orders/{oid}/payment", ct, {"method": "card", "card_token": "t"},
                       status=200)
        if action == "cancel":
            _, view = await api.json("POST", f"/orders/{oid}/cancel", ct, {"reason": "late"}, status=200)
            assert view["status"] == "cancelled"
        else:
            _, view = await api.json("POST", f"/stores/{sid}/orders/{oid}/reject", st,
                                     {"reason": "no chicken"}, status=200)
            assert view["status"] == "rejected"
        for _ in range(100):
            _, read = await api.json("GET", f"/orders/{oid}", ct)
            if read["payment"]["status"] == "refunded":
                break
            await asyncio.sleep(0.02)
        assert read["payment"]["status"] == "refunded"


async def test_catalogue_lists_nearby_stores_nearest_first_and_their_menus(api, parties):
    sid1, sid2 = parties["s1"][0], parties["s2"][0]
    _, near = await api.json("GET", "/stores?lat=37.5004&lon=127.03&radius_km=2", status=200)
    assert {s["id"] for s in near["stores"]} == {sid1, sid2}
    assert near["stores"][0]["distance_km"] <= near["stores"][1]["distance_km"]
    _, none = await api.json("GET", "/stores?lat=35.1&lon=129.0&radius_km=2", status=200)
    assert none["stores"] == []
    _, menu = await api.json("GET", f"/stores/{sid1}/menu", status=200)
    assert menu == {"store_id": sid1, "items": [{"id": "m1", "name": "Fried chicken", "price": 18000},
                                                {"id": "m2", "name": "Cola", "price": 2000}]}


async def test_store_queue_and_rider_deliveries(api, parties):
    (_cid, ct), (sid, st), (rid, rt) = parties["c1"], parties["s1"], parties["r1"]
    oid = await api.cooked(ct, sid, st)
    _, queue = await api.json("GET", f"/stores/{sid}/orders?status=cooked", st, status=200)
    assert [o["id"] for o in queue["orders"]] == [oid]
    _, available = await api.json("GET", "/riders/me/deliveries/available", rt, status=200)
    assert [d["order_id"] for d in available["deliveries"]] == [oid]
    assert available["deliveries"][0]["store"]["id"] == sid
    _, moved = await api.json("PUT", "/riders/me/location", rt, {"lat": 37.6, "lon": 127.0}, status=200)
    assert moved == {"id": rid, "location": {"lat": 37.6, "lon": 127.0}}
    _, away = await api.json("GET", "/riders/me/deliveries/available", rt, status=200)
    assert away["deliveries"] == []


async def test_msgpack_bodies_and_answers(api, parties):
    (_cid, ct), (sid, _) = parties["c1"], parties["s1"]
    body = msgpack.packb({"store_id": sid, "items": [{"menu_item_id": "m1", "quantity": 3}],
                          "delivery_address": HOME})
    r = await api.http.post("/orders", data=body, headers={
        "Authorization": f"Bearer {ct}", "Content-Type": "application/msgpack",
        "Accept": "application/msgpack"})
    assert r.status == 201 and r.content_type == "application/msgpack"
    order = msgpack.unpackb(await r.read())
    assert order["total"] == 54000
    r = await api.http.get(f"/orders/{order['id']}", headers={
        "Authorization": f"Bearer {ct}", "Accept": "application/msgpack"})
    assert msgpack.unpackb(await r.read())["id"] == order["id"]
    r = await api.http.post("/orders", data=b"\xc1", headers={
        "Authorization": f"Bearer {ct}", "Content-Type": "application/msgpack"})
    assert r.status == 400 and (await r.json(content_type=None))["code"] == "malformed_body"


async def test_server_sent_events_carry_each_change(api, parties):
    (_cid, ct), (sid, st) = parties["c1"], parties["s1"]
    _, order = await api.place(ct, sid, status=201)
    oid = order["id"]
    seen: list[str] = []

    async def watch():
        async with api.http.get(f"/orders/{oid}/events",
                                headers={"Authorization": f"Bearer {ct}"}) as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            event = None
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "status":
                    import json

                    seen.append(json.loads(line[5:])["status"])
                    if seen[-1] == "cooking":
                        return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    await api.json("POST", f"/orders/{oid}/payment", ct, {"method": "card", "card_token": "t"}, status=200)
    await api.json("POST", f"/stores/{sid}/orders/{oid}/accept", st, status=200)
    await api.json("POST", f"/stores/{sid}/orders/{oid}/start-cooking", st, status=200)
    await asyncio.wait_for(watcher, 5)
    assert seen == ["placed", "paid", "accepted", "cooking"]
    from delivery.http.keys import STREAMS

    for _ in range(50):  # the stream is let go once the client has gone
        if not api.http.app[STREAMS]:
            break
        await asyncio.sleep(0.05)
    assert not api.http.app[STREAMS]


async def test_admin_api_shows_actors_and_stats(api, parties):
    (_cid, ct), (sid, st) = parties["c1"], parties["s1"]
    await api.cooked(ct, sid, st)
    _, actors = await api.json("GET", "/admin/api/actors", ADMIN, status=200)
    kinds = {a["kind"] for a in actors["actors"]}
    assert {"guardian", "projector", "notifier", "payment_gateway", "registry", "store"} <= kinds
    _, stats = await api.json("GET", "/admin/api/stats", ADMIN, status=200)
    assert stats["orders_by_status"]["cooked"] == 1 and stats["journal"]["events"] == 5
    assert stats["live_order_actors"] == 1
    await api.json("GET", "/admin/api/stats", ct, status=403)


async def test_health_ready_metrics_and_openapi(api, parties):
    await api.json("GET", "/health", status=200)
    _, ready = await api.json("GET", "/ready", status=200)
    assert ready["status"] == "ready"
    r = await api.http.get("/metrics")
    text = await r.text()
    assert r.status == 200
    assert 'delivery_http_requests_total{method="GET",route="/ready",status="200"}' in text
    assert "delivery_actor_messages " in text and 'delivery_live_actors{kind="guardian"} 1.0' in text
    _, doc = await api.json("GET", "/openapi.json", status=200)
    assert doc["openapi"].startswith("3.1")


async def test_the_same_flow_over_http_on_multiproc_tcp_base(aiohttp_client, tmp_path):
    from delivery.actors.system import session_pids
    from delivery.http.app import create_app
    from delivery.http.keys import RUNTIME
    from tests.conftest import make_settings

    from .conftest import Api

    app = create_app(make_settings(tmp_path / "data", "multiprocTCPBase"), ADMIN)
    api = Api(await aiohttp_client(app))
    sid_ = app[RUNTIME].admin_sid
    (_cid, ct), (sid, st), (rid, rt) = await api.customer(), await api.store(), await api.rider()
    oid = await api.cooked(ct, sid, st)
    await api.json("POST", f"/deliveries/{oid}/pick", rt, status=200)
    _, view = await api.json("POST", f"/orders/{oid}/confirm-delivery", ct, status=200)
    assert view["status"] == "completed" and view["rider_id"] == rid
    await api.http.close()
    assert session_pids(sid_) == []
