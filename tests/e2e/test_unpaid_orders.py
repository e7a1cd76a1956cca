"""Unpaid orders can't flood a store: a cap per customer, expiry by the system, and a store list
that puts paid orders first (issue 12, item 7)."""

from __future__ import annotations

import asyncio
import time

from .conftest import Api, make_api

PAY = {"method": "card", "card_token": "tok_visa"}


async def test_a_customer_with_five_unpaid_orders_is_refused_a_sixth(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path, **{"orders.max_unpaid": 5})
    (_, ct), (sid, _) = await api.customer(), await api.store()
    orders = [(await api.place(ct, sid, status=201))[1]["id"] for _ in range(5)]
    _, data = await api.place(ct, sid, status=409)
    assert data["code"] == "too_many_unpaid_orders" and "5" in data["detail"]
    await api.json("POST", f"/orders/{orders[0]}/payment", ct, PAY, status=200)
    await api.place(ct, sid, status=201)
    await api.place(ct, sid, status=409)
    await api.json("POST", f"/orders/{orders[1]}/cancel", ct, {"reason": "oops"}, status=200)
    await api.place(ct, sid, status=201)
    # the cap is the customer's: another one still orders from the store
    _, other = await api.customer("Park")
    await api.place(other, sid, status=201)


async def test_concurrent_placements_never_pass_the_cap(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path, **{"orders.max_unpaid": 3})
    (_, ct), (sid, _) = await api.customer(), await api.store()
    results = await asyncio.gather(*[api.place(ct, sid) for _ in range(12)])
    assert sorted(r.status for r, _ in results) == [201] * 3 + [409] * 9
    _, mine = await api.json("GET", "/customers/me/orders", ct, status=200)
    assert len(mine["orders"]) == 3


async def wait_for_status(api: Api, token: str, oid: str, status: str, within_s: float = 10.0):
    deadline = time.monotonic() + within_s
    while True:
        _, view = await api.json("GET", f"/orders/{oid}", token, status=200)
        if view["status"] == status or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.05)


async def test_an_unpaid_order_is_cancelled_by_the_sweep_and_the_customer_told(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path, **{"orders.unpaid_expiry_s": 0.3})
    (_, ct), (sid, st) = await api.customer(), await api.store()
    _, unpaid = await api.place(ct, sid, status=201)
    _, paid = await api.place(ct, sid, status=201)
    await api.json("POST", f"/orders/{paid['id']}/payment", ct, PAY, status=200)
    view = await wait_for_status(api, ct, unpaid["id"], "cancelled")
    assert view["status"] == "cancelled" and view["reason"] == "not paid in time"
    assert view["payment"]["status"] == "unpaid"
    await asyncio.sleep(0.5)  # a few more sweeps: the paid order must stay paid
    _, still = await api.json("GET", f"/orders/{paid['id']}", ct, status=200)
    assert still["status"] == "paid"
    _, notes = await api.json("GET", "/customers/me/notifications", ct, status=200)
    expired = [n for n in notes["notifications"] if n["kind"] == "order_expired"]
    assert [n["order_id"] for n in expired] == [unpaid["id"]]
    assert "not paid in time" in expired[0]["text"]
    _, owner = await api.json("GET", f"/stores/{sid}/notifications", st, status=200)
    assert unpaid["id"] not in str(owner)
    await api.json("POST", f"/orders/{unpaid['id']}/payment", ct, PAY, status=409)


async def test_the_store_list_puts_paid_orders_first_and_hides_unpaid_ones(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path)
    (_, ct), (sid, st) = await api.customer(), await api.store()

    async def order(*steps: str) -> str:
        _, view = await api.place(ct, sid, status=201)
        oid = view["id"]
        for step in steps:
            if step == "pay":
                await api.json("POST", f"/orders/{oid}/payment", ct, PAY, status=200)
            elif step == "cancel":
                await api.json("POST", f"/orders/{oid}/cancel", ct, {"reason": "r"}, status=200)
            else:
                await api.json("POST", f"/stores/{sid}/orders/{oid}/{step}", st, status=200)
        return oid

    cooking = await order("pay", "accept", "start-cooking")
    placed = await order()
    refunded = await order("pay", "cancel")
    dropped = await order("cancel")
    paid = await order("pay")
    accepted = await order("pay", "accept")
    _, queue = await api.json("GET", f"/stores/{sid}/orders", st, status=200)
    assert [o["id"] for o in queue["orders"]] == [paid, accepted, cooking, refunded]
    _, asked = await api.json("GET", f"/stores/{sid}/orders?status=placed", st, status=200)
    assert [o["id"] for o in asked["orders"]] == [placed]
    _, cancelled = await api.json("GET", f"/stores/{sid}/orders?status=cancelled", st, status=200)
    assert [o["id"] for o in cancelled["orders"]] == [refunded, dropped]
