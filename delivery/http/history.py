"""The last ten minutes of the front door, one sample a second, for the admin console's charts
(the Orleans Dashboard and Erlang's observer keep history the same way: in the node, bounded).

Requests are counted as they are answered (`observe`, from the metrics middleware); every
second `sample` closes the second: orders placed and completed, the p99 of the requests
answered in it, actor messages and admission refusals since the last sample, and the payment
circuit's state at that moment."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

SECONDS = 600
FIELDS = ("t", "orders_placed", "orders_completed", "requests", "p99_ms", "actor_messages",
          "refusals", "circuit")


class History:
    """A ring of per-second samples (at most SECONDS) and the second being counted."""

    def __init__(self, seconds: int = SECONDS) -> None:
        self.samples: deque[dict[str, Any]] = deque(maxlen=seconds)
        self._durations: list[float] = []
        self._placed = self._completed = 0
        self._messages: int | None = None
        self._refused: int | None = None

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request."""
        self._durations.append(seconds)
        if method == "POST" and route == "/orders" and status == 201:
            self._placed += 1
        elif route.endswith("/confirm-delivery") and status == 200:
            self._completed += 1

    def sample(self, actor_messages: int | None, refused: int, circuit: str | None,
               now: float | None = None) -> dict[str, Any]:
        """Close the current second; counters are totals since start (None: not known now)."""
        durations, self._durations = sorted(self._durations), []
        p99 = durations[max(0, math.ceil(0.99 * len(durations)) - 1)] * 1000 if durations else None
        point = {"t": round(time.time() if now is None else now, 3),
                 "orders_placed": self._placed, "orders_completed": self._completed,
                 "requests": len(durations), "p99_ms": None if p99 is None else round(p99, 2),
                 "actor_messages": _delta(actor_messages, self._messages),
                 "refusals": _delta(refused, self._refused), "circuit": circuit}
        self._placed = self._completed = 0
        self._messages = actor_messages if actor_messages is not None else self._messages
        self._refused = refused
        self.samples.append(point)
        return point

    def columns(self, since: float = 0.0) -> dict[str, list[Any]]:
        """The samples after `since` (a time), one list per field: compact for the page."""
        rows = [s for s in self.samples if s["t"] > since]
        return {field: [row[field] for row in rows] for field in FIELDS}


def _delta(total: int | None, before: int | None) -> int | None:
    if total is None or before is None:
        return None
    return max(0, total - before)
