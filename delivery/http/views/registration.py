"""Registration of customers, stores and riders; the store catalogue."""

from __future__ import annotations

import sqlite3

from aiohttp import web

from ... import clock
from ...domain.commands import RegisterRider, RegisterStore
from ...domain.geo import Location, distance_km, location_json
from ...domain.menu import MAX_MENU_ITEMS, MenuItem, check_price
from ...domain.onboarding import APPROVED
from ...domain.refusal import Refusal
from ...ids import new_id
from ...persistence.directory import new_token
from .. import auth
from ..idempotency import Keyed, idempotent
from ..keys import BRIDGE, DIRECTORY
from ..problems import Problem
from ..wire import read_body, respond


def _identity(keyed: Keyed | None, prefix: str) -> tuple[str, str]:
    if keyed is None:
        return new_id(prefix), new_token()
    return keyed.id(prefix), keyed.token()


async def _person(request: web.Request) -> tuple[str, str, Location]:
    """Name, phone and location of a customer or rider being registered."""
    body = await read_body(request)
    return body.str("name"), body.str("phone", max_len=32), body.location("location")


async def register_customer(request: web.Request) -> web.Response:
    name, phone, location = await _person(request)

    async def create(keyed: Keyed | None):
        customer_id, token = _identity(keyed, "cus")
        try:
            request.app[DIRECTORY].add_customer(customer_id, name, phone, location, token,
                                                clock.now())
        except sqlite3.IntegrityError:
            if keyed is None:
                raise
            # The same key raced itself: the first attempt created this very customer.
        return 201, {"id": customer_id, "token": token}, {}

    return await idempotent(request, "POST /customers", create)


async def register_store(request: web.Request) -> web.Response:
    body = await read_body(request)
    name, phone = body.str("name"), body.str("owner_phone", max_len=32)
    location = body.location("location")
    entries = body.list("menu", MAX_MENU_ITEMS)
    menu = []
    for i, entry in enumerate(entries):
        price = check_price(entry.data.get("price"), f"menu[{i}].price")
        if isinstance(price, Refusal):
            raise Problem.from_refusal(price)
        menu.append(MenuItem(f"m{i + 1}", entry.str("name"), price))

    async def create(keyed: Keyed | None):
        store_id, token = _identity(keyed, "sto")
        made = await request.app[BRIDGE].command(
            "stores", RegisterStore(store_id, name, phone, location, tuple(menu), token))
        return 201, {"id": store_id, "token": token, "status": made["status"],
                     "menu": [_item(m) for m in menu]}, {}

    return await idempotent(request, "POST /stores", create)


async def register_rider(request: web.Request) -> web.Response:
    name, phone, location = await _person(request)

    async def create(keyed: Keyed | None):
        rider_id, token = _identity(keyed, "rid")
        made = await request.app[BRIDGE].command(
            "riders", RegisterRider(rider_id, name, phone, location, token))
        return 201, {"id": rider_id, "token": token, "status": made["status"]}, {}

    return await idempotent(request, "POST /riders", create)


def _listed(request: web.Request, store_id: str) -> bool:
    """Customers see approved stores only; a pending or suspended store still reads its own menu."""
    return (request.app[DIRECTORY].status("stores", store_id) == APPROVED
            or auth.presents(request, "stores", store_id))


def _item(m: MenuItem) -> dict:
    return {"id": m.id, "name": m.name, "price": m.price}


def _query_number(request: web.Request, name: str, low: float, high: float) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Problem("invalid_query", f"{name} must be a number", name) from None
    if not low <= value <= high:
        raise Problem("invalid_query", f"{name} must be within {low:g}..{high:g}", name)
    return value


async def list_stores(request: web.Request) -> web.Response:
    lat = _query_number(request, "lat", -90, 90)
    lon = _query_number(request, "lon", -180, 180)
    radius = _query_number(request, "radius_km", 0, 100)
    if (lat is None) != (lon is None):
        raise Problem("invalid_query", "give both lat and lon, or neither", "lat" if lat is None else "lon")
    stores = []
    for s in request.app[DIRECTORY].stores():
        entry = {"id": s.id, "name": s.name,
                 "location": location_json(s.location), "distance_km": None}
        if lat is not None:

            d = distance_km(Location(lat, lon), s.location)
            if d > (radius if radius is not None else 5.0):
                continue
            entry["distance_km"] = round(d, 3)
        stores.append(entry)
    if lat is not None:
        stores.sort(key=lambda e: e["distance_km"])
    return respond(request, {"stores": stores})


async def store_menu(request: web.Request) -> web.Response:
    store_id = request.match_info["store_id"]
    store = request.app[DIRECTORY].store(store_id)
    if store is None or not _listed(request, store_id):
        raise Problem("not_found", f"store {store_id!r} does not exist")
    return respond(request, {"store_id": store.id, "items": [_item(m) for m in store.menu]})
