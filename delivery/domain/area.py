"""What a rider sees of a delivery address before picking the order: an area, not a door."""

from __future__ import annotations

import math

from .commands import Address
from .geo import Location

GRID_DEG = 0.003
"""Cell size of the grid addresses are snapped to: ~330 m of latitude, ~265 m of longitude in Seoul."""
MAX_WORDS = 2


def approximate_location(loc: Location, grid_deg: float = GRID_DEG) -> Location:
    """The centre of the grid cell holding `loc`: every door of a cell looks the same."""
    def snap(value: float) -> float:
        return round((math.floor(value / grid_deg) + 0.5) * grid_deg, 6)
    return Location(snap(loc.lat), snap(loc.lon))


def coarse_text(text: str) -> str:
    """The start of an address before any number (district, street), at most two words.

    "서울 강남구 테헤란로 152" -> "서울 강남구"; "Gangnam-daero 396" -> "Gangnam-daero": house
    numbers, flats and floors always come after the part that names the neighbourhood.
    """
    words = []
    for word in text.replace(",", " ").split():
        if any(ch.isdigit() for ch in word) or len(words) == MAX_WORDS:
            break
        words.append(word)
    return " ".join(words)


def approximate(address: Address) -> dict[str, float | str]:
    """The area of a delivery address as riders see it before the pick: {lat, lon, text}."""
    loc = approximate_location(address.location)
    return {"lat": loc.lat, "lon": loc.lon, "text": coarse_text(address.text)}
