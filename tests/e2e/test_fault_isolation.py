"""Store management down or crashed: orders are still taken, and the store receives each one
exactly once, in order, when it is back."""

from __future__ import annotations

import asyncio
import time

import pytest

from .conftest import ADMIN


async def inbox(api, sid, st):
    return (await api.json("GET", f"/stores/{sid}/inbox", st, status=200))[1]["received"]


async def wait_inbox(api, sid, st, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await inbox(api, sid, st)
        if len(got) >= n:
            return got
        await asyncio.sleep(0.02)
    return await inbox(api, sid, st)


async def paid_order(api, ct, sid):
    _, order = await api.place(ct, sid, status=201)
    await api.json("POST", f"/orders/{order['id']}/payment", ct,
                   {"method": "card", "card_token": "t"}, status=200)
    return order["id"]


async def store_actor_pids(api, sid):
    _, tree = await api.json("GET", "/admin/api/actors", ADMIN, status=200)
    return [a for a in tree["actors"] if a["kind"] == "store" and a["key"] == sid]


async def test_orders_go_on_while_a_store_is_down_and_arrive_once_in_order_when_it_is_up(api, parties):
    ct, (sid, st) = parties["c1"][1], parties["s1"]
    before = await paid_order(api, ct, sid)
    assert [r["order_id"] for r in await wait_inbox(api, sid, st, 1)] == [before]
    _, faults = await api.json("POST", "/admin/api/faults", ADMIN,
                               {"target": "store", "store_id": sid, "kind": "down"}, status=200)
    assert {"target": "store", "store_id": sid, "kind": "down"} in faults["faults"]
    assert await store_actor_pids(api, sid) == []  # really stopped, not flagged
    missed = [await paid_order(api, ct, sid) for _ in range(4)]  # normal answers meanwhile
    cancelled = missed[1]
    await api.json("POST", f"/orders/{cancelled}/cancel", ct, {"reason": "x"}, status=200)
    await asyncio.sleep(0.3)
    assert [r["order_id"] for r in await inbox(api, sid, st)] == [before]
    assert await store_actor_pids(api, sid) == []
    _, faults = await api.json("POST", "/admin/api/faults", ADMIN,
                               {"target": "store", "store_id": sid, "kind": "up"}, status=200)
    assert faults["faults"] == []
    got = await wait_inbox(api, sid, st, 7)
    assert [(r["order_id"], r["kind"]) for r in got] == (
        [(before, "new_order")] + [(o, "new_order") for o in missed]
        + [(cancelled, "cancelled"), (cancelled, "refunded")])
    assert [r["seq"] for r in got] == sorted(r["seq"] for r in got)
    for oid in missed:  # and the store can accept them (the cancelled one excepted)
        r, _ = await api.json("POST", f"/stores/{sid}/orders/{oid}/accept", st)
        assert r.status == (409 if oid == cancelled else 200)
    await asyncio.sleep(0.3)
    assert len(await inbox(api, sid, st)) == 7  # nothing twice


async def test_a_crashed_store_actor_is_replaced_and_catches_up(api, parties):
    ct, (sid, st) = parties["c1"][1], parties["s1"]
    first = await paid_order(api, ct, sid)
    await wait_inbox(api, sid, st, 1)
    await api.json("POST", "/admin/api/faults", ADMIN,
                   {"target": "store", "store_id": sid, "kind": "crash"}, status=200)
    later = [await paid_order(api, ct, sid) for _ in range(3)]
    got = await wait_inbox(api, sid, st, 4)
    assert [r["order_id"] for r in got] == [first, *later]
    _, tree = await api.json("GET", "/admin/api/actors", ADMIN, status=200)
    (registry,) = [a for a in tree["actors"] if a["kind"] == "registry" and a["key"] == "store"]
    assert "crashes=1" in registry["state"]


@pytest.mark.parametrize("body,field", [
    ({"target": "store", "kind": "down"}, "store_id"),
    ({"target": "store", "store_id": "sto_nope", "kind": "down"}, "store_id"),
    ({"target": "store", "store_id": "x", "kind": "slow"}, "kind"),
])
async def test_bad_store_faults_are_refused(api, parties, body, field):
    r, data = await api.json("POST", "/admin/api/faults", ADMIN, body)
    assert r.status in (404, 422) and data["field"] == field


async def test_a_store_reads_its_inbox_page_by_page_without_a_gap_or_a_repeat(api, parties):
    """A busy store's inbox outgrows one answer: `next_cursor` pages on, oldest first, while
    orders keep arriving; without `limit` a page holds up to 500, as the one answer did."""
    (_, ct), (sid, st) = parties["c1"], parties["s1"]
    pay = {"method": "card", "card_token": "tok_visa"}
    paid = []
    for _ in range(3):
        _, order = await api.place(ct, sid, status=201)
        await api.json("POST", f"/orders/{order['id']}/payment", ct, pay, status=200)
        paid.append(order["id"])
    await wait_inbox(api, sid, st, len(paid))
    _, first = await api.json("GET", f"/stores/{sid}/inbox?limit=2", st, status=200)
    assert [x["order_id"] for x in first["received"]] == paid[:2] and first["next_cursor"]
    _, order = await api.place(ct, sid, status=201)
    await api.json("POST", f"/orders/{order['id']}/payment", ct, pay, status=200)
    await wait_inbox(api, sid, st, len(paid) + 1)
    _, second = await api.json("GET", f"/stores/{sid}/inbox?limit=2&cursor={first['next_cursor']}",
                               st, status=200)
    assert [x["order_id"] for x in second["received"]] == [paid[2], order["id"]]
    assert second["next_cursor"] is None
    _, whole = await api.json("GET", f"/stores/{sid}/inbox", st, status=200)
    assert len(whole["received"]) == 4 and whole["next_cursor"] is None
    _, bad = await api.json("GET", f"/stores/{sid}/inbox?cursor=bm9wZQ", st, status=400)
    assert (bad["code"], bad["field"]) == ("invalid_query", "cursor")
    _, big = await api.json("GET", f"/stores/{sid}/inbox?limit=501", st, status=422)
    assert (big["code"], big["field"]) == ("limit_too_large", "limit")

