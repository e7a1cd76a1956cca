"""Client-side adaptive throttling (Google SRE book, "Handling Overload"): a client that sees the
service refuse many of its requests refuses some of its own, locally, before sending them.

Each kind of request keeps, over the last `window_s` seconds, how many requests the client
wanted to send (`requests`, those it refused itself included) and how many the service accepted
(`accepts`: any answer but a `503 overloaded` refusal). A new request is refused locally with
probability max(0, (requests - k * accepts) / (requests + 1)): nothing is refused while the
service accepts more than 1/k of the requests; beyond, the client sends about k requests per
accepted one and keeps the rest off the wire. A locally refused request is handled as the
service's refusal would be (waited on, tried again, or given up), but costs neither side a
request. The window is short so that, once the service accepts again, the client stops
refusing within a few seconds.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any


class _Kind:
    __slots__ = ("events", "requests", "accepts")

    def __init__(self) -> None:
        self.events: deque[tuple[float, bool]] = deque()  # (when, accepted)
        self.requests = 0
        self.accepts = 0


class AdaptiveThrottle:
    """Per kind of request: refuse locally in proportion to what the service refused lately."""

    def __init__(self, k: float = 2.0, window_s: float = 2.0,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if k < 1:
            raise ValueError("k must be at least 1 (1: send one request per accepted one)")
        self.k, self.window_s = k, window_s
        self.rng, self.clock = rng or random.Random(), clock
        self.kinds: defaultdict[str, _Kind] = defaultdict(_Kind)

    def _current(self, kind: str) -> _Kind:
        state, horizon = self.kinds[kind], self.clock() - self.window_s
        while state.events and state.events[0][0] < horizon:
            _, accepted = state.events.popleft()
            state.requests -= 1
            state.accepts -= accepted
        return state

    def probability(self, kind: str) -> float:
        """The chance that the next request of this kind is refused locally."""
        state = self._current(kind)
        return max(0.0, (state.requests - self.k * state.accepts) / (state.requests + 1))

    def refuse(self, kind: str) -> bool:
        """Whether to refuse this request locally; a refused one counts as a request."""
        if self.rng.random() < self.probability(kind):
            self._add(kind, accepted=False)
            return True
        return False

    def answered(self, kind: str, accepted: bool) -> None:
        """The service answered a request sent (accepted: anything but an overload refusal)."""
        self._current(kind)
        self._add(kind, accepted)

    def _add(self, kind: str, accepted: bool) -> None:
        state = self.kinds[kind]
        state.events.append((self.clock(), accepted))
        state.requests += 1
        state.accepts += accepted


def throttle_of(args: Any, rng: random.Random) -> AdaptiveThrottle | None:
    """The clients' throttle the command line asks for (`--client-throttle K`, 0: none)."""
    if not getattr(args, "client_throttle", 0):
        return None
    return AdaptiveThrottle(args.client_throttle, args.throttle_window, rng)
