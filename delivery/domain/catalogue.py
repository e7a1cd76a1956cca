"""The store catalogue's order: nearest first, paged by a (distance, id) position."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .geo import Location, distance_km

DEFAULT_RADIUS_KM = 5.0


@dataclass(frozen=True)
class Listed:
    """A store within the radius, with its distance from the asker."""

    distance_km: float
    """Unrounded, so that two stores never tie by rounding."""
    id: str
    """Breaks ties between stores at the same distance."""
    store: object
    """The store summary as the directory gave it."""


def nearest_page(center: Location, radius_km: float, stores: Iterable, after: tuple[float, str] | None,
                 limit: int) -> tuple[list[Listed], bool]:
    """The stores within the radius positioned after `after` in (distance, id) order, up to
    `limit`, and whether more follow. A position rather than an offset keeps paging exact while
    stores register between pages."""
    found = []
    for store in stores:
        d = distance_km(center, store.location)
        if d <= radius_km and (after is None or (d, store.id) > after):
            found.append(Listed(d, store.id, store))
    found.sort(key=lambda e: (e.distance_km, e.id))
    return found[:limit], len(found) > limit
