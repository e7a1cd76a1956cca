"""The rider's side: report a location, see deliveries nearby, pick one up."""

from __future__ import annotations

import functools

from aiohttp import web

from ...domain.area import approximate
from ...domain.commands import Address, MoveRider, PickUp
from ...domain.geo import Location, distance_km, location_json
from .. import auth
from ..keys import BRIDGE, DIRECTORY, READS, SETTINGS
from ..problems import Problem
from ..wire import read_body, respond


async def move(request: web.Request) -> web.Response:
    rider_id = auth.caller(request)
    location = (await read_body(request)).location()
    return respond(request, await request.app[BRIDGE].command("riders", MoveRider(rider_id, location)))


async def available(request: web.Request) -> web.Response:
    rider_id = auth.caller(request)
    _, location = request.app[DIRECTORY].rider_location(rider_id)
    if location is None:
        raise Problem("conflict", "report your location first (PUT /riders/me/location)")
    radius = request.app[SETTINGS].dispatch.radius_km
    stores = {}
    deliveries = []
    for _, view, s in request.app[READS].available_deliveries(location, radius):
        if s.id not in stores:
            stores[s.id] = {"id": s.id, "name": s.name, "location": location_json(s.location)}
        deliveries.append({"order_id": view["id"], "store": stores[s.id],
                           **_area(view["delivery_address"], location)})
    return respond(request, {"deliveries": deliveries})


def _area(address: dict, rider: Location) -> dict:
    """The address as a rider sees it before the pick: an area of a few hundred metres and its
    district, and the distance to that area (an exact distance would give the door away to a
    rider reporting from three places)."""
    area = _approximate(address["lat"], address["lon"], address["text"])
    distance = distance_km(rider, Location(area["lat"], area["lon"]))
    return {"delivery_address": {**area, "approximate": True}, "distance_km": round(distance, 1)}


@functools.lru_cache(maxsize=4096)
def _approximate(lat: float, lon: float, text: str) -> dict:
    """`approximate` of an address, worked out once: every rider nearby lists the same
    deliveries again and again (callers copy it, never change it)."""
    return approximate(Address(lat, lon, text))


async def pick(request: web.Request) -> web.Response:
    rider_id = auth.caller(request)
    command = PickUp(rider_id, request.match_info["order_id"])
    return respond(request, await request.app[BRIDGE].command("riders", command))
