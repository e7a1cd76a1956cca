"""When new orders arrive: a constant or linearly ramped rate (the open model)."""

from __future__ import annotations

import math
from collections.abc import Iterator


def arrivals(rate: float, duration_s: float, ramp_from: float | None = None,
             ramp_s: float = 0.0) -> Iterator[float]:
    """Offsets in seconds from the start at which order k (k = 0, 1, ...) is due.

    With a ramp the rate grows linearly from `ramp_from` to `rate` over `ramp_s` seconds, then
    stays at `rate`; the k-th arrival is where the integral of the rate reaches k.
    """
    if rate <= 0 or duration_s <= 0:
        return
    r0 = rate if ramp_from is None or ramp_s <= 0 else max(0.0, ramp_from)
    ramp = ramp_s if r0 != rate else 0.0
    in_ramp = (r0 + rate) / 2 * ramp  # arrivals during the ramp
    k = 0
    while True:
        t = _ramp_time(k, r0, rate, ramp) if k < in_ramp else ramp + (k - in_ramp) / rate
        if t >= duration_s:
            return
        yield t
        k += 1


def _ramp_time(k: float, r0: float, r1: float, ramp: float) -> float:
    """Solve r0 t + (r1 - r0) t^2 / (2 ramp) = k for t in [0, ramp]."""
    a = (r1 - r0) / (2 * ramp)
    if abs(a) < 1e-12:
        return k / r0
    return (-r0 + math.sqrt(r0 * r0 + 4 * a * k)) / (2 * a)
