"""Exponential backoff with jitter for restarts, like Akka's restartWithBackoff(min, max, random)."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delay before the n-th restart in a row; the count resets after a stable period."""

    def __init__(self, min_s: float, max_s: float, random_factor: float, stable_after_s: float,
                 clock: Callable[[], float], rng: random.Random | None = None) -> None:
        self.min_s, self.max_s, self.random_factor = min_s, max_s, random_factor
        self.stable_after_s, self.clock = stable_after_s, clock
        self.rng = rng or random.Random()
        self.attempt = 0
        self.started_at: float | None = None

    def started(self) -> None:
        """The child is running again."""
        self.started_at = self.clock()

    def next_delay(self) -> float:
        """The child crashed: how long to wait before starting it again."""
        if self.started_at is not None and self.clock() - self.started_at >= self.stable_after_s:
            self.attempt = 0  # it ran long enough: a new crash starts from the minimum again
        base = min(self.max_s, self.min_s * 2 ** self.attempt)
        self.attempt += 1
        self.started_at = None
        return base * (1 + self.rng.random() * self.random_factor)
