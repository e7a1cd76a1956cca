"""The rider's side: report a location, see deliveries nearby, pick one up."""

from __future__ import annotations

import orjson
from aiohttp import web

from ...domain.area import approximate
from ...domain.commands import Address, MoveRider, PickUp
from ...domain.geo import Location, haversine_km, location_json
from ...persistence.readmodel import Recent
from .. import auth
from ..keys import BRIDGE, READS, SETTINGS
from ..problems import Problem
from ..wire import read_body, respond


async def move(request: web.Request) -> web.Response:
    rider_id = auth.caller(request)
    location = (await read_body(request)).location()
    return respond(request, await request.app[BRIDGE].command("riders", MoveRider(rider_id, location)))


async def available(request: web.Request) -> web.Response:
    location = auth.located(request)
    if location is None:
        raise Problem("conflict", "report your location first (PUT /riders/me/location)")
    radius = request.app[SETTINGS].dispatch.radius_km
    lat, lon = location.lat, location.lon
    reads = request.app[READS]
    deliveries = []
    for _, order_id, store_id, name, slat, slon in reads.available_deliveries(location, radius):
        if store_id is None:
            continue  # its store is not registered: there is nowhere to pick it up
        area = _AREAS.get(order_id) or _area(order_id, reads.view_json(order_id))
        if area is None:
            continue  # gone since the lookup
        address, alat, alon = area
        deliveries.append({"order_id": order_id, "store": _store(store_id, name, slat, slon),
                           "delivery_address": address,
                           "distance_km": round(haversine_km(lat, lon, alat, alon), 1)})
    return respond(request, {"deliveries": deliveries})


_AREAS: Recent[str, tuple[dict, float, float]] = Recent(4096)
"""Order id -> the approximate area of its delivery address as the list shows it, and the
area's centre, worked out once: every rider nearby lists the same deliveries again and again,
and an order's address never changes."""

_STORES: Recent[tuple[str, str, float, float], dict] = Recent(1024)
"""A store's row -> the store as the list shows it (the row is the key: a renamed or moved
store is a new entry)."""


def _area(order_id: str, view: str | None) -> tuple[dict, float, float] | None:
    """The address of an order (its `view`) as a rider sees it before the pick, kept: an area
    of a few hundred metres and its district (the list gives the distance to that area: an
    exact distance would give the door away to a rider reporting from three places)."""
    if view is None:
        return None
    address = orjson.loads(view)["delivery_address"]
    shown = approximate(Address(address["lat"], address["lon"], address["text"]))
    area = ({**shown, "approximate": True}, shown["lat"], shown["lon"])
    _AREAS.keep({order_id: area})
    return area


def _store(id: str, name: str, lat: float, lon: float) -> dict:
    key = (id, name, lat, lon)
    shown = _STORES.get(key)
    if shown is None:
        shown = {"id": id, "name": name, "location": location_json(Location(lat, lon))}
        _STORES.keep({key: shown})
    return shown


async def pick(request: web.Request) -> web.Response:
    rider_id = auth.caller(request)
    command = PickUp(rider_id, request.match_info["order_id"])
    return respond(request, await request.app[BRIDGE].command("riders", command))
