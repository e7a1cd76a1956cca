"""The rider's side: report a location, see deliveries nearby, pick one up."""

from __future__ import annotations

import orjson
from aiohttp import web

from ...domain.area import approximate
from ...domain.commands import Address, MoveRider, PickUp
from ...domain.geo import Location, haversine_km, location_json
from ...persistence.readmodel import Deliverable, Recent
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
    stores = {}
    deliveries = []
    for found in request.app[READS].available_deliveries(location, radius):
        s = found.store
        if s is None:
            continue  # its store is not registered: there is nowhere to pick it up
        if s.id not in stores:
            stores[s.id] = {"id": s.id, "name": s.name, "location": location_json(s.location)}
        deliveries.append({"order_id": found.order_id, "store": stores[s.id],
                           **_area(found, location)})
    return respond(request, {"deliveries": deliveries})


_AREAS: Recent[str, dict] = Recent(4096)
"""Order id -> the approximate area of its delivery address, worked out once: every rider
nearby lists the same deliveries again and again, and an order's address never changes."""


def _area(found: Deliverable, rider: Location) -> dict:
    """The address as a rider sees it before the pick: an area of a few hundred metres and its
    district, and the distance to that area (an exact distance would give the door away to a
    rider reporting from three places)."""
    area = _AREAS.get(found.order_id)
    if area is None:
        address = orjson.loads(found.view)["delivery_address"]
        area = approximate(Address(address["lat"], address["lon"], address["text"]))
        _AREAS.keep({found.order_id: area})
    distance = haversine_km(rider.lat, rider.lon, area["lat"], area["lon"])
    return {"delivery_address": {**area, "approximate": True}, "distance_km": round(distance, 1)}


async def pick(request: web.Request) -> web.Response:
    rider_id = auth.caller(request)
    command = PickUp(rider_id, request.match_info["order_id"])
    return respond(request, await request.app[BRIDGE].command("riders", command))
