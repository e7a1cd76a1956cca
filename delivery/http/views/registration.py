"""Registration of customers, stores and riders; the store catalogue."""

from __future__ import annotations

from aiohttp import web

from ... import clock
from ...domain.catalogue import DEFAULT_RADIUS_KM, nearest_page
from ...domain.commands import RegisterRider, RegisterStore
from ...domain.geo import Location, location_json
from ...domain.menu import MAX_MENU_ITEMS, MenuItem, check_price
from ...domain.refusal import Refusal
from ...persistence.directory import StoreSummary, new_token
from .. import auth
from ..idempotency import idempotent
from ..keys import BRIDGE, DIRECTORY
from ..paging import cursor_position, make_cursor, page_limit
from ..problems import Problem
from ..wire import query_number, read_body, respond


async def _person(request: web.Request) -> tuple[str, str, Location]:
    """Name, phone and location of a customer or rider being registered."""
    body = await read_body(request)
    return body.str("name"), body.str("phone", max_len=32), body.location("location")


async def register_customer(request: web.Request) -> web.Response:
    name, phone, location = await _person(request)

    async def create(customer_id: str):
        token = new_token()
        request.app[DIRECTORY].add_customer(customer_id, name, phone, location, token, clock.now())
        return 201, {"id": customer_id, "token": token}, {}

    return await idempotent(request, "POST /customers", "cus", create, replay=False)


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

    async def create(store_id: str):
        token = new_token()
        made = await request.app[BRIDGE].command(
            "stores", RegisterStore(store_id, name, phone, location, tuple(menu), token))
        return 201, {"id": store_id, "token": token, "status": made["status"],
                     "menu": [_item(m) for m in menu]}, {}

    return await idempotent(request, "POST /stores", "sto", create, replay=False)


async def register_rider(request: web.Request) -> web.Response:
    name, phone, location = await _person(request)

    async def create(rider_id: str):
        token = new_token()
        made = await request.app[BRIDGE].command(
            "riders", RegisterRider(rider_id, name, phone, location, token))
        return 201, {"id": rider_id, "token": token, "status": made["status"]}, {}

    return await idempotent(request, "POST /riders", "rid", create, replay=False)


def _item(m: MenuItem) -> dict:
    return {"id": m.id, "name": m.name, "price": m.price}


async def list_stores(request: web.Request) -> web.Response:
    """One page of store summaries: nearest first around lat/lon, else by id; never a menu."""
    lat = query_number(request, "lat", -90, 90)
    lon = query_number(request, "lon", -180, 180)
    radius = query_number(request, "radius_km", 0, 100)
    if (lat is None) != (lon is None):
        raise Problem("invalid_query", "give both lat and lon, or neither", "lat" if lat is None else "lon")
    limit = page_limit(request)
    directory = request.app[DIRECTORY]
    if lat is None:
        after = cursor_position(request, "id")
        page = directory.store_page(after[0] if after else "", limit + 1)
        more, page = len(page) > limit, page[:limit]
        stores = [_summary(s, None) for s in page]
        last = page[-1].id if page else None
        return respond(request, {"stores": stores,
                                 "next_cursor": make_cursor("id", last) if more else None})
    center, radius = Location(lat, lon), DEFAULT_RADIUS_KM if radius is None else radius
    listed, more = nearest_page(center, radius, directory.stores_in_box(center, radius),
                                cursor_position(request, "near"), limit)
    stores = [_summary(e.store, e.distance_km) for e in listed]
    next_cursor = make_cursor("near", listed[-1].distance_km, listed[-1].id) if more else None
    return respond(request, {"stores": stores, "next_cursor": next_cursor})


def _summary(s: StoreSummary, distance: float | None) -> dict:
    return {"id": s.id, "name": s.name, "location": location_json(s.location),
            "distance_km": None if distance is None else round(distance, 3)}


async def store_menu(request: web.Request) -> web.Response:
    store_id, directory = request.match_info["store_id"], request.app[DIRECTORY]
    items = directory.menu(store_id)  # approved stores only: what customers may order
    if items is None and auth.presents(request, "stores", store_id):
        items = {m.id: m for m in directory.store(store_id).menu}  # its own, while pending
    if items is None:
        raise Problem("not_found", f"store {store_id!r} does not exist")
    return respond(request, {"store_id": store_id, "items": [_item(m) for m in items.values()]})
