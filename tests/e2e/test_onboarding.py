"""Issue 12 item 3 through the real app: onboarding of stores and riders, the approximate area of
available deliveries, impossible rider moves, and the admin taking a picked order back."""

from __future__ import annotations

import pytest

from delivery.domain.geo import Location, distance_km
from delivery.http.keys import DB

from .conftest import ADMIN, FAR, HOME, NEAR, Api, make_api
from .test_errors_and_access import problem


@pytest.fixture
async def strict(aiohttp_client, tmp_path):
    """The app as deployed: onboarding by the admin, the default speed limit."""
    return await make_api(aiohttp_client, tmp_path, **{"onboarding.auto_approve": False,
                                                       "dispatch.max_speed_kmh": 150.0})


async def _register(api: Api, path: str, body: dict) -> dict:
    _, d = await api.json("POST", path, body=body, status=201)
    return d


async def _store(api: Api) -> dict:
    return await _register(api, "/stores", {
        "name": "New Chicken", "owner_phone": "010-2", "location": {"lat": 37.5004, "lon": 127.03},
        "menu": [{"name": "Fried chicken", "price": 18000}, {"name": "Cola", "price": 2000}]})


async def _rider(api: Api, location=None) -> dict:
    return await _register(api, "/riders", {"name": "Lee", "phone": "010-3",
                                            "location": location or NEAR})


async def _admin(api: Api, kind: str, id: str, action: str, status: int = 200) -> dict:
    return (await api.json("POST", f"/admin/api/{kind}/{id}/{action}", ADMIN, status=status))[1]


async def test_a_new_store_is_pending_hidden_from_customers_and_refused_commands(strict):
    store = await _store(strict)
    sid, st = store["id"], store["token"]
    assert store["status"] == "pending"
    _, ct = await strict.customer()
    _, listed = await strict.json("GET", "/stores?lat=37.5004&lon=127.03", status=200)
    assert sid not in [s["id"] for s in listed["stores"]]
    await strict.json("GET", f"/stores/{sid}/menu", status=404)
    await strict.json("GET", f"/stores/{sid}/menu", st, status=200)  # reading itself
    _, data = await strict.place(ct, sid)
    problem(data, "not_found", 404, "store_id")  # a pending store looks like no store
    await strict.json("GET", f"/stores/{sid}/orders", st, status=200)
    await strict.json("GET", f"/stores/{sid}/notifications", st, status=200)
    _, data = await strict.json("POST", f"/stores/{sid}/orders/o_x/accept", st)
    problem(data, "not_approved", 403)
    assert "pending" in data["detail"]


async def test_an_approved_store_is_listed_and_takes_orders(strict):
    sid = (await _store(strict))["id"]
    approved = await _admin(strict, "stores", sid, "approve")
    assert (approved["id"], approved["status"], approved["name"]) == (sid, "approved", "New Chicken")
    _, ct = await strict.customer()
    _, listed = await strict.json("GET", "/stores?lat=37.5004&lon=127.03", status=200)
    assert sid in [s["id"] for s in listed["stores"]]
    await strict.place(ct, sid, status=201)


async def test_a_pending_rider_may_not_move_look_for_deliveries_or_pick(strict):
    rider = await _rider(strict)
    assert rider["status"] == "pending"
    rt = rider["token"]
    for method, path, body in (("PUT", "/riders/me/location", NEAR),
                               ("GET", "/riders/me/deliveries/available", None),
                               ("POST", "/deliveries/o_x/pick", None)):
        _, data = await strict.json(method, path, rt, body)
        problem(data, "not_approved", 403)
    await _admin(strict, "riders", rider["id"], "approve")
    await strict.json("PUT", "/riders/me/location", rt, NEAR, status=200)


async def test_a_suspended_rider_cannot_pick_and_a_suspended_store_cannot_cook(api, parties):
    (_, ct), (sid, st), (rid, rt) = parties["c1"], parties["s1"], parties["r1"]
    oid = await api.cooked(ct, sid, st)
    assert (await _admin(api, "riders", rid, "suspend"))["status"] == "suspended"
    _, data = await api.json("POST", f"/deliveries/{oid}/pick", rt)
    problem(data, "not_approved", 403)
    assert "suspended" in data["detail"]
    await api.json("POST", f"/deliveries/{oid}/pick", parties["r2"][1], status=200)
    _, order = await api.place(ct, sid, status=201)
    await api.json("POST", f"/orders/{order['id']}/payment", ct,
                   {"method": "card", "card_token": "tok_visa"}, status=200)
    await _admin(api, "stores", sid, "suspend")
    _, data = await api.json("POST", f"/stores/{sid}/orders/{order['id']}/accept", st)
    problem(data, "not_approved", 403)
    _, mine = await api.json("GET", f"/stores/{sid}/orders", st, status=200)
    assert order["id"] in [o["id"] for o in mine["orders"]]
    await _admin(api, "stores", sid, "approve")
    await api.json("POST", f"/stores/{sid}/orders/{order['id']}/accept", st, status=200)


async def test_the_admin_lists_who_waits_and_only_the_admin_may_approve(strict):
    store, rider = await _store(strict), await _rider(strict)
    _, waiting = await strict.json("GET", "/admin/api/onboarding", ADMIN, status=200)
    assert [s["id"] for s in waiting["stores"]] == [store["id"]]
    assert [(r["id"], r["status"]) for r in waiting["riders"]] == [(rider["id"], "pending")]
    _, data = await strict.json("POST", f"/admin/api/stores/{store['id']}/approve", store["token"])
    problem(data, "wrong_role", 403)
    problem(await _admin(strict, "riders", "rid_nope", "approve", 404), "not_found", 404)
    await _admin(strict, "stores", store["id"], "approve")
    _, waiting = await strict.json("GET", "/admin/api/onboarding", ADMIN, status=200)
    assert waiting["stores"] == []


async def test_available_deliveries_show_an_area_and_only_the_picker_gets_the_address(api, parties):
    (_, ct), (sid, st), (_, rt) = parties["c1"], parties["s1"], parties["r1"]
    oid = await api.cooked(ct, sid, st)
    _, available = await api.json("GET", "/riders/me/deliveries/available", rt, status=200)
    (delivery,) = available["deliveries"]
    area = delivery["delivery_address"]
    assert delivery["store"]["id"] == sid and area["approximate"] is True
    # no house number anywhere but in the ids, which are random hex and may hold "396" too
    shown = {k: v for k, v in delivery.items() if k not in ("order_id", "store")}
    assert area["text"] == "Gangnam-daero" and "396" not in str(shown)
    assert delivery["store"].keys() == {"id", "name", "location"}
    offset = distance_km(Location(HOME["lat"], HOME["lon"]), Location(area["lat"], area["lon"]))
    assert 0 < offset < 0.3
    await api.json("GET", f"/orders/{oid}", rt, status=404)  # not before the pick
    await api.json("POST", f"/deliveries/{oid}/pick", rt, status=200)
    _, view = await api.json("GET", f"/orders/{oid}", rt, status=200)
    assert view["delivery_address"] == HOME
    await api.json("GET", f"/orders/{oid}", parties["r2"][1], status=404)


async def test_a_cooked_order_whose_store_is_gone_is_left_out_of_the_list_not_a_500(api, parties):
    (_, ct), (sid, st), (_, rt) = parties["c1"], parties["s1"], parties["r1"]
    await api.cooked(ct, sid, st)
    db = api.http.app[DB]
    with db.transaction():  # as if the row were lost: the order names a store nobody knows
        db.execute("DELETE FROM stores WHERE id = ?", (sid,))
    _, available = await api.json("GET", "/riders/me/deliveries/available", rt, status=200)
    assert available == {"deliveries": []}


async def test_a_rider_jumping_across_town_is_refused_and_stays_where_it_was(strict):
    rider = await _rider(strict, NEAR)
    await _admin(strict, "riders", rider["id"], "approve")
    rt = rider["token"]
    _, data = await strict.json("PUT", "/riders/me/location", rt, FAR)  # 11 km at once
    problem(data, "implausible_location", 422, "location")
    step = {"lat": NEAR["lat"] + 0.0002, "lon": NEAR["lon"]}  # 22 m: a rider on its way
    _, moved = await strict.json("PUT", "/riders/me/location", rt, step, status=200)
    assert moved["location"] == step
    _, data = await strict.json("PUT", "/riders/me/location", rt, FAR)
    problem(data, "implausible_location", 422, "location")


async def test_the_admin_unassigns_a_picked_order_and_another_rider_delivers_it(api, parties):
    (_, ct), (sid, st), (_, r1), (_, r2) = (parties["c1"], parties["s1"], parties["r1"],
                                            parties["r2"])
    oid = await api.cooked(ct, sid, st)
    await api.json("POST", f"/deliveries/{oid}/pick", r1, status=200)
    _, view = await api.json("POST", f"/admin/api/orders/{oid}/unassign", ADMIN,
                             {"reason": "rider unreachable"}, status=200)
    assert (view["status"], view["rider_id"]) == ("cooked", None)
    assert [h["status"] for h in view["history"]][-2:] == ["picked_up", "cooked"]
    await api.json("GET", f"/orders/{oid}", r1, status=404)  # no longer its delivery
    _, available = await api.json("GET", "/riders/me/deliveries/available", r2, status=200)
    assert [d["order_id"] for d in available["deliveries"]] == [oid]
    _, data = await api.json("POST", f"/admin/api/orders/{oid}/unassign", ADMIN)
    problem(data, "invalid_transition", 409)
    await api.json("POST", f"/deliveries/{oid}/pick", r2, status=200)
    await api.json("POST", f"/orders/{oid}/confirm-delivery", ct, status=200)
    _, notes = await api.json("GET", "/customers/me/notifications", ct, status=200)
    assert "rider_unassigned" in [n["kind"] for n in notes["notifications"]]
    _, journal = await api.json("GET", f"/admin/api/orders/{oid}/events", ADMIN, status=200)
    unassigned = [e for e in journal["events"] if e["kind"] == "OrderUnassigned"]
    assert unassigned[0]["data"] == {"rider_id": parties["r1"][0], "reason": "rider unreachable"}


async def test_unassigning_an_unknown_order_is_404(api):
    problem((await api.json("POST", "/admin/api/orders/o_nope/unassign", ADMIN))[1], "not_found", 404)
