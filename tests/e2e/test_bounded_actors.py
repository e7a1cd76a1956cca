"""However many orders are open, at most actors.max_live_orders order actors live at once,
and every order still works; stores and riders are bounded the same way."""

from __future__ import annotations

from delivery.http.app import create_app
from tests.conftest import make_settings

from .conftest import ADMIN, Api


async def test_ten_times_the_cap_of_open_orders_keeps_the_live_actors_under_the_cap(
        aiohttp_client, tmp_path):
    cap = 4
    settings = make_settings(tmp_path / "data", **{
        "actors.max_live_orders": cap, "actors.max_live_stores": 2, "actors.max_live_riders": 2})
    api = Api(await aiohttp_client(create_app(settings, ADMIN)))
    (_, ct) = await api.customer()
    stores = [await api.store(f"S{i}") for i in range(3)]
    riders = [await api.rider(f"R{i}") for i in range(3)]
    peak: dict[str, int] = {}

    async def sample() -> None:
        _, stats = await api.json("GET", "/admin/api/stats", ADMIN, status=200)
        for kind, n in stats["live_entities"].items():
            peak[kind] = max(peak.get(kind, 0), n)
        assert stats["live_order_actors"] == stats["live_entities"]["order"]

    orders = []
    for i in range(10 * cap):
        sid, _ = stores[i % 3]
        _, order = await api.place(ct, sid, status=201)
        orders.append((order["id"], i % 3))
        await sample()
    for oid, s in orders:  # every one of them still works
        await api.json("POST", f"/orders/{oid}/payment", ct, {"method": "card", "card_token": "t"},
                       status=200)
        sid, st = stores[s]
        _, view = await api.json("POST", f"/stores/{sid}/orders/{oid}/accept", st, status=200)
        assert view["version"] == 3
        await sample()
    for _, rt in riders:
        await api.json("PUT", "/riders/me/location", rt, {"lat": 37.5, "lon": 127.0}, status=200)
        await sample()
    assert peak["order"] <= cap and peak["store"] <= 2 and peak["rider"] <= 2
    assert peak["order"] == cap  # the cap was reached, so the bound was really exercised
