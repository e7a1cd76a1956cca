"""The real aiohttp app over a real actor system, driven through HTTP."""

from __future__ import annotations

import pytest

from delivery.http.app import create_app
from tests.conftest import make_settings

ADMIN = "test-admin-token"
HOME = {"lat": 37.4979, "lon": 127.0276, "text": "Gangnam-daero 396"}
NEAR = {"lat": 37.4990, "lon": 127.0290}
FAR = {"lat": 37.6000, "lon": 127.0000}


class Api:
    """Thin helpers over the test client; every call returns the aiohttp response."""

    def __init__(self, client) -> None:
        self.http = client

    async def json(self, method, path, token=None, body=None, status=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = await self.http.request(method, path, json=body, headers=headers, **kw)
        data = await r.json(content_type=None)
        if status is not None:
            assert r.status == status, (r.status, data)
        return r, data

    async def customer(self, name="Kim", location=None):
        _, d = await self.json("POST", "/customers", body={
            "name": name, "phone": "010-1", "location": location or {"lat": 37.4979, "lon": 127.0276}},
            status=201)
        return d["id"], d["token"]

    async def store(self, name="Chicken"):
        _, d = await self.json("POST", "/stores", body={
            "name": name, "owner_phone": "010-2", "location": {"lat": 37.5004, "lon": 127.03},
            "menu": [{"name": "Fried chicken", "price": 18000}, {"name": "Cola", "price": 2000}]},
            status=201)
        return d["id"], d["token"]

    async def rider(self, name="Lee", location=None):
        _, d = await self.json("POST", "/riders", body={
            "name": name, "phone": "010-3", "location": location or NEAR}, status=201)
        return d["id"], d["token"]

    async def place(self, ctoken, store_id, **kw):
        return await self.json("POST", "/orders", ctoken, {
            "store_id": store_id, "items": [{"menu_item_id": "m1", "quantity": 1},
                                            {"menu_item_id": "m2", "quantity": 2}],
            "delivery_address": HOME}, **kw)

    async def cooked(self, ctoken, store_id, stoken):
        _, order = await self.place(ctoken, store_id, status=201)
        oid = order["id"]
        await self.json("POST", f"/orders/{oid}/payment", ctoken,
                        {"method": "card", "card_token": "tok_visa"}, status=200)
        for step in ("accept", "start-cooking", "finish-cooking"):
            await self.json("POST", f"/stores/{store_id}/orders/{oid}/{step}", stoken, status=200)
        return oid


async def make_api(aiohttp_client, base, **overrides) -> Api:
    """The real app on base/data, with configuration keys overridden (dotted names)."""
    return Api(await aiohttp_client(create_app(make_settings(base / "data", **overrides), ADMIN)))


@pytest.fixture
async def api(aiohttp_client, tmp_path):
    return await make_api(aiohttp_client, tmp_path)


@pytest.fixture
async def parties(api):
    """Two customers, two stores, two riders near the delivery address."""
    return {"c1": await api.customer("Kim"), "c2": await api.customer("Park"),
            "s1": await api.store("Chicken"), "s2": await api.store("Pizza"),
            "r1": await api.rider("Lee"), "r2": await api.rider("Choi")}
