"""Whether a rider's reported move is physically possible: a rider who teleports across town
could harvest addresses or pick orders far from where it really is."""

from __future__ import annotations

import math
from datetime import datetime

from .geo import Location, distance_km
from .refusal import Refusal

GPS_NOISE_KM = 0.05
"""Jumps this small are accepted at any speed: two fixes a moment apart differ by this much."""


def check_move(last: Location | None, last_at: datetime | None, new: Location, now: datetime,
               max_speed_kmh: float) -> Refusal | None:
    """None if a rider last seen at `last` (at `last_at`) can be at `new` by `now`, else why not."""
    if last is None or last_at is None or math.isinf(max_speed_kmh):
        return None
    km = distance_km(last, new)
    if km <= GPS_NOISE_KM:
        return None
    seconds = max(0.0, (now - last_at).total_seconds())
    if km <= max_speed_kmh * seconds / 3600:
        return None
    speed = f"{km / seconds * 3600:,.0f} km/h" if seconds > 0 else "an instant jump"
    return Refusal("implausible_location",
                   f"moving {km:.2f} km in {seconds:.1f} s ({speed}) is faster than "
                   f"{max_speed_kmh:g} km/h; report where you are now, step by step", "location")
