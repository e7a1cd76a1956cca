"""Every error code of the API, access control, idempotency and concurrency, through HTTP."""

from __future__ import annotations

import asyncio

import pytest

from delivery.payment.simulated import SimulatedProvider
from tests.conftest import db_url

from .conftest import ADMIN, FAR, HOME


def problem(data, code, status, field=None):
    assert data["code"] == code and data["status"] == status, data
    assert data["detail"] and data["title"] and data["type"].endswith(code)
    if field is not None:
        assert data["field"] == field


@pytest.mark.parametrize("body,field", [
    ({"phone": "1", "location": {"lat": 1, "lon": 1}}, "name"),
    ({"name": 7, "phone": "1", "location": {"lat": 1, "lon": 1}}, "name"),
    ({"name": "a", "phone": "1", "location": {"lat": 91, "lon": 1}}, "location.lat"),
    ({"name": "a", "phone": "1", "location": {"lat": 1, "lon": "east"}}, "location.lon"),
    ({"name": "a", "phone": "1", "location": [1, 2]}, "location"),
    ({"name": "a" * 201, "phone": "1", "location": {"lat": 1, "lon": 1}}, "name"),
])
async def test_bad_registration_fields_are_named(api, body, field):
    r, data = await api.json("POST", "/customers", body=body)
    assert r.status == 422 and data["field"] == field
    assert r.headers["Content-Type"].startswith("application/problem+json")


async def test_malformed_bodies_media_types_and_sizes(api, parties):
    ct = parties["c1"][1]
    h = {"Authorization": f"Bearer {ct}", "Content-Type": "application/json"}
    for raw in (b"{", b"[1,2]", b"null", b'{"a": NaN}', b"\xff\xfe"):
        r = await api.http.post("/orders", data=raw, headers=h)
        problem(await r.json(content_type=None), "malformed_body", 400)
    r = await api.http.post("/orders", data=b"store_id=x", headers={
        "Authorization": f"Bearer {ct}", "Content-Type": "text/plain"})
    problem(await r.json(content_type=None), "unsupported_media_type", 415)
    r = await api.http.post("/customers", data=b"{" + b" " * 70000 + b"}", headers=h)
    problem(await r.json(content_type=None), "body_too_large", 413)
    r = await api.http.delete("/orders")
    problem(await r.json(content_type=None), "method_not_allowed", 405)
    r = await api.http.get("/no/such/thing")
    problem(await r.json(content_type=None), "not_found", 404)


@pytest.mark.parametrize("items,code,field", [
    ([{"menu_item_id": "m9", "quantity": 1}], "unknown_menu_item", "items[0].menu_item_id"),
    ([{"menu_item_id": "m1", "quantity": -1}], "invalid_field", "items[0].quantity"),
    ([{"menu_item_id": "m1", "quantity": 100}], "invalid_field", "items[0].quantity"),
    ([{"menu_item_id": "m1", "quantity": "2"}], "invalid_field", "items[0].quantity"),
    ([{"menu_item_id": "m1"}], "missing_field", "items[0].quantity"),
    ([], "invalid_field", "items"),
    (["m1"], "invalid_field", "items[0]"),
])
async def test_bad_order_lines_are_refused_naming_the_field(api, parties, items, code, field):
    r, data = await api.json("POST", "/orders", parties["c1"][1], {
        "store_id": parties["s1"][0], "items": items, "delivery_address": HOME})
    problem(data, code, 422, field)


async def test_an_order_for_an_unknown_store_or_a_bad_address_is_refused(api, parties):
    ct = parties["c1"][1]
    _, data = await api.json("POST", "/orders", ct, {
        "store_id": "sto_nope", "items": [{"menu_item_id": "m1", "quantity": 1}], "delivery_address": HOME})
    problem(data, "not_found", 404, "store_id")
    _, data = await api.json("POST", "/orders", ct, {
        "store_id": parties["s1"][0], "items": [{"menu_item_id": "m1", "quantity": 1}],
        "delivery_address": {"lat": 37.5, "lon": 200, "text": "x"}})
    problem(data, "invalid_field", 422, "delivery_address.lon")


async def test_state_conflicts_name_the_current_status(api, parties):
    (_cid, ct), (sid, st), (_rid, rt) = parties["c1"], parties["s1"], parties["r1"]
    _, order = await api.place(ct, sid, status=201)
    oid = order["id"]
    _, data = await api.json("POST", f"/stores/{sid}/orders/{oid}/accept", st)
    problem(data, "invalid_transition", 409)
    assert "placed" in data["detail"]
    _, data = await api.json("POST", f"/orders/{oid}/payment", ct, {"method": "card", "card_token": "tok_declined"})
    problem(data, "payment_declined", 402)
    await api.json("POST", f"/orders/{oid}/payment", ct, {"method": "card", "card_token": "t"}, status=200)
    _, data = await api.json("POST", f"/orders/{oid}/payment", ct, {"method": "card", "card_token": "t"})
    problem(data, "already_paid", 409)
    _, data = await api.json("POST", f"/orders/{oid}/payment", ct, {"method": "cash", "card_token": "t"})
    problem(data, "invalid_field", 422, "method")
    _, data = await api.json("POST", f"/orders/{oid}/confirm-delivery", ct)
    problem(data, "invalid_transition", 409)
    for step in ("accept", "start-cooking"):
        await api.json("POST", f"/stores/{sid}/orders/{oid}/{step}", st, status=200)
    _, data = await api.json("POST", f"/orders/{oid}/cancel", ct, {"reason": "late"})
    problem(data, "order_not_cancellable", 409)
    assert "cooking" in data["detail"]
    await api.json("POST", f"/stores/{sid}/orders/{oid}/finish-cooking", st, status=200)
    await api.json("PUT", "/riders/me/location", parties["r2"][1], FAR, status=200)
    _, data = await api.json("POST", f"/deliveries/{oid}/pick", parties["r2"][1])
    problem(data, "out_of_range", 403)
    await api.json("POST", f"/deliveries/{oid}/pick", rt, status=200)
    _, data = await api.json("POST", f"/deliveries/{oid}/pick", parties["r2"][1])
    problem(data, "already_picked", 409)


async def test_tokens_are_required_and_must_be_known(api, parties):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = await api.http.get("/customers/me/orders", headers=headers)
        problem(await r.json(content_type=None), "unauthorized", 401)
    # a store token is a valid token, of the wrong role (every route: test_roles.py)
    _, data = await api.json("GET", "/customers/me/orders", parties["s1"][1])
    problem(data, "wrong_role", 403)
    _, data = await api.json("GET", "/admin/api/actors", parties["c1"][1])
    problem(data, "wrong_role", 403)


async def test_customers_stores_and_riders_see_and_act_on_their_own_only(api, parties):
    (_c1, t1), (_c2, t2) = parties["c1"], parties["c2"]
    (s1, st1), (s2, st2) = parties["s1"], parties["s2"]
    (_r1, rt1), (_r2, rt2) = parties["r1"], parties["r2"]
    oid = await api.cooked(t1, s1, st1)
    # another customer: as if the order did not exist
    _, data = await api.json("GET", f"/orders/{oid}", t2)
    problem(data, "not_found", 404)
    _, data = await api.json("POST", f"/orders/{oid}/cancel", t2, {"reason": "x"})
    problem(data, "not_found", 404)
    _, mine = await api.json("GET", "/customers/me/orders", t2, status=200)
    assert mine["orders"] == []
    # another store: its own paths only (403), and the order is not in its store (404)
    _, data = await api.json("GET", f"/stores/{s1}/orders", st2)
    problem(data, "forbidden", 403)
    _, data = await api.json("POST", f"/stores/{s2}/orders/{oid}/accept", st2)
    problem(data, "not_found", 404)
    _, data = await api.json("GET", f"/stores/{s1}/notifications", st2)
    problem(data, "forbidden", 403)
    # the store of the order can read it; a rider only once it picked it
    await api.json("GET", f"/orders/{oid}", st1, status=200)
    _, data = await api.json("GET", f"/orders/{oid}", rt1)
    problem(data, "not_found", 404)
    await api.json("POST", f"/deliveries/{oid}/pick", rt1, status=200)
    await api.json("GET", f"/orders/{oid}", rt1, status=200)
    _, data = await api.json("GET", f"/orders/{oid}", rt2)
    problem(data, "not_found", 404)


async def test_idempotency_key_replays_and_refuses_reuse_with_another_body(api, parties):
    (_cid, ct), (sid, _) = parties["c1"], parties["s1"]
    key = {"Idempotency-Key": "order-123"}
    r1, first = await api.place(ct, sid, headers=dict(key), status=201)
    r2, again = await api.place(ct, sid, headers=dict(key), status=201)
    assert again["id"] == first["id"] and r2.headers["Idempotent-Replayed"] == "true"
    _, mine = await api.json("GET", "/customers/me/orders", ct, status=200)
    assert len(mine["orders"]) == 1
    _, data = await api.json("POST", "/orders", ct, {
        "store_id": sid, "items": [{"menu_item_id": "m1", "quantity": 5}], "delivery_address": HOME},
        headers=dict(key))
    problem(data, "idempotency_key_reused", 422)
    # the same key from another customer is another request
    _, other = await api.place(parties["c2"][1], sid, headers=dict(key), status=201)
    assert other["id"] != first["id"]
    # registration replays name the id but never hand the token out again
    # (tests/e2e/test_idempotency_keys.py has the rules of registration keys)
    body = {"name": "Han", "phone": "010", "location": {"lat": 37.5, "lon": 127.0}}
    _, reg1 = await api.json("POST", "/customers", body=body, headers={"Idempotency-Key": "k"}, status=201)
    _, reg2 = await api.json("POST", "/customers", body=body, headers={"Idempotency-Key": "k"}, status=409)
    assert reg2["id"] == reg1["id"] and "token" not in reg2
    await api.json("GET", "/customers/me/orders", reg1["token"], status=200)


async def test_concurrent_retries_with_one_key_create_one_order(api, parties):
    (_cid, ct), (sid, _) = parties["c1"], parties["s1"]
    results = await asyncio.gather(*[api.place(ct, sid, headers={"Idempotency-Key": "same"})
                                     for _ in range(5)])
    assert {r.status for r, _ in results} == {201}
    assert len({d["id"] for _, d in results}) == 1


async def test_four_riders_picking_at_once_leave_exactly_one_200(api, parties):
    (_cid, ct), (sid, st) = parties["c1"], parties["s1"]
    riders = [parties["r1"], parties["r2"], await api.rider("Kang"), await api.rider("Yoon")]
    oid = await api.cooked(ct, sid, st)
    results = await asyncio.gather(*[api.json("POST", f"/deliveries/{oid}/pick", token)
                                     for _, token in riders])
    statuses = sorted(r.status for r, _ in results)
    assert statuses == [200, 409, 409, 409]
    assert {d["code"] for r, d in results if r.status == 409} == {"already_picked"}


async def test_concurrent_payments_of_one_order_charge_it_once(api, parties, tmp_path):
    (_cid, ct), (sid, _) = parties["c1"], parties["s1"]
    _, order = await api.place(ct, sid, status=201)
    oid = order["id"]
    results = await asyncio.gather(*[api.json("POST", f"/orders/{oid}/payment", ct,
                                              {"method": "card", "card_token": "tok_visa"})
                                     for _ in range(6)])
    statuses = [r.status for r, _ in results]
    assert statuses.count(200) == 1 and set(statuses) <= {200, 409}
    assert SimulatedProvider(db_url(tmp_path / "data")).charges(oid) == 1


STRANGE = [b"", b"0", b'""', b"{}", b'{"store_id": null}', b'{"store_id": {"$gt": ""}}',
           b'{"store_id": "s", "items": {"a": 1}}', b'{"items": [[]]}',
           b'{"store_id": "s", "items": [{"menu_item_id": 1e309, "quantity": 1}]}',
           b'{"delivery_address": "\\u0000"}', b"\x00\x01\x02", b'{"a":' * 2000,
           b'{"store_id": "' + b"x" * 60000 + b'"}']


@pytest.mark.parametrize("raw", STRANGE, ids=range(len(STRANGE)))
async def test_no_input_however_strange_yields_a_500(api, parties, raw):
    for path in ("/orders", "/customers", "/stores", "/orders/x/payment"):
        r = await api.http.post(path, data=raw, headers={
            "Authorization": f"Bearer {parties['c1'][1]}", "Content-Type": "application/json"})
        data = await r.json(content_type=None)
        assert 400 <= r.status < 500, (path, raw[:40], r.status, data)
        assert "Traceback" not in str(data) and data["code"]


async def test_admin_endpoints_need_the_admin_token(api):
    await api.json("GET", "/admin/api/actors", ADMIN, status=200)
    _, data = await api.json("GET", "/admin/api/actors", "wrong")
    problem(data, "unauthorized", 401)
