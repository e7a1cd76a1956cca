"""Locations and great-circle distance."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .refusal import Refusal

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Location:
    """A point on Earth in WGS 84 degrees."""

    lat: float
    """Latitude, -90..90."""
    lon: float
    """Longitude, -180..180."""


def bounding_box(center: Location, radius_km: float) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_min, lon_max) of a box holding the circle (a superset of it)."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    dlon = dlat / max(0.01, math.cos(math.radians(center.lat)))
    return center.lat - dlat, center.lat + dlat, center.lon - dlon, center.lon + dlon


def location_json(loc: Location) -> dict[str, float]:
    """A location as the API shows it: {lat, lon}."""
    return {"lat": loc.lat, "lon": loc.lon}


def check_location(lat: object, lon: object, field: str = "location") -> Location | Refusal:
    """A Location from raw numbers, or a refusal naming the field that is out of range."""
    for name, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        path = f"{field}.{name}" if field else name
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return Refusal("invalid_field", f"{path} must be a number", path)
        if not -limit <= value <= limit:
            return Refusal("invalid_field", f"{path} must be within ±{limit:g}, got {value}", path)
    return Location(float(lat), float(lon))


def distance_km(a: Location, b: Location) -> float:
    """Great-circle (haversine) distance between two points in kilometres."""
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """`distance_km` of two points given as degrees, for loops over rows (a Location costs
    more to make than the distance does to work out)."""
    # math.radians(x) is x * (pi / 180): the same bits, without a call per angle (a rider's
    # list works out two distances an order; test_pricing_and_geo.py holds it to the plain spelling).
    p1, p2 = lat1 * _RADIANS, lat2 * _RADIANS
    h = _sin((p2 - p1) / 2) ** 2 + _cos(p1) * _cos(p2) * _sin((lon2 - lon1) * _RADIANS / 2) ** 2
    root = _sqrt(h)
    return 2 * EARTH_RADIUS_KM * _asin(root if root < 1.0 else 1.0)


_RADIANS = math.pi / 180.0
_sin, _cos, _asin, _sqrt = math.sin, math.cos, math.asin, math.sqrt
