"""Admission control as pure code with an injected clock: an adaptive bound on commands in flight.

The bound follows the time commands wait for the actor thread (CoDel's signal, Netflix
concurrency-limits' shape): while the mean queueing delay of an interval stays above the target
the limit shrinks in proportion; while it stays below and the limit is in use it grows by its
square root. Each criticality may use its share of the limit, so the least critical is refused first,
and while a more critical command was refused within the last interval every less critical one is
refused too: otherwise a flood of new orders would take each slot freed below its share before the
next step of an order already placed arrives, and placed orders would starve.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Criticalities, most critical first: commands on orders already placed are refused last.
ORDER_COMMAND, NEW_ORDER, REGISTRATION = "order_command", "new_order", "registration"
CLASSES = (ORDER_COMMAND, NEW_ORDER, REGISTRATION)
MAX_SHRINK, MIN_SHRINK = 0.5, 0.9  # one interval never more than halves nor less than trims


@dataclass(frozen=True)
class LimitSettings:
    """The knobs of `[admission]`, read once from the configuration."""

    initial: int
    """Limit before anything was measured."""
    minimum: int
    """The limit never shrinks below this."""
    maximum: int
    """The limit never grows above this."""
    queue_target_s: float
    """Mean queueing delay above which the limit shrinks."""
    interval_s: float
    """How often the limit is reconsidered."""
    shares: dict[str, float] = field(default_factory=dict)
    """Share of the limit each class may fill; a missing class may fill all of it."""

    @classmethod
    def from_config(cls, a: Any) -> LimitSettings:
        """From the [admission] settings (config.AdmissionSettings)."""
        return cls(a.initial_limit, a.min_limit, a.max_limit, a.queue_target_ms / 1000,
                   a.interval_ms / 1000,
                   {NEW_ORDER: a.new_order_share, REGISTRATION: a.registration_share})


QueueSource = Callable[[], tuple[int, float]]
"""Commands taken by the actor thread since the last call, and their total queueing time (s)."""


class AdaptiveLimit:
    """Admits or refuses commands by criticality and moves its limit with the measured queueing."""

    def __init__(self, settings: LimitSettings, clock: Callable[[], float],
                 queue: QueueSource) -> None:
        self.s, self.clock, self.queue = settings, clock, queue
        self.limit = float(settings.initial)
        self.in_flight = self.peak = 0
        self.queue_delay_s = 0.0  # mean of the last interval that had samples
        self.admitted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._now = clock()
        self._next = self._now + settings.interval_s
        self._refused_at = dict.fromkeys(CLASSES, -math.inf)

    def threshold(self, criticality: str) -> int:
        """In-flight count from which `criticality` is refused (at least 1: an idle node admits)."""
        return max(1, int(self.limit * self.s.shares.get(criticality, 1.0)))

    def admit(self, criticality: str) -> bool:
        """Take a slot for a command of this criticality, or refuse it (False)."""
        self._tick()
        if self.in_flight >= self.threshold(criticality) or self._yields(criticality):
            self.refused[criticality] += 1
            self._refused_at[criticality] = self._now
            return False
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.admitted[criticality] += 1
        return True

    def _yields(self, criticality: str) -> bool:
        """A more critical class was refused lately: its commands get the next free slots."""
        since = self._now - self.s.interval_s
        return any(self._refused_at[c] > since for c in CLASSES[:CLASSES.index(criticality)])

    def release(self) -> None:
        """An admitted command was answered."""
        self.in_flight -= 1

    def _tick(self) -> None:
        now = self._now = self.clock()
        if now < self._next:
            return
        self._next = now + self.s.interval_s
        count, total_s = self.queue()
        peak, self.peak = self.peak, self.in_flight
        if count == 0:
            return  # no command reached the actors: nothing learnt
        self.queue_delay_s = total_s / count
        if self.queue_delay_s > self.s.queue_target_s:
            # Commands admitted above an earlier, lower limit are still draining: shrinking again
            # before they are gone would punish the same queue twice.
            if self.in_flight <= self.limit:
                factor = max(MAX_SHRINK, min(MIN_SHRINK, self.s.queue_target_s / self.queue_delay_s))
                self.limit = max(float(self.s.minimum), self.limit * factor)
        elif peak * 2 >= self.limit:  # a limit nobody comes near says nothing about capacity
            self.limit = min(float(self.s.maximum), self.limit + math.sqrt(self.limit))

    def snapshot(self) -> dict:
        """What the admin API and the consoles show."""
        return {"limit": int(self.limit), "in_flight": self.in_flight,
                "queue_delay_ms": round(self.queue_delay_s * 1000, 2),
                "queue_target_ms": self.s.queue_target_s * 1000,
                "classes": {c: {"threshold": self.threshold(c), "admitted": self.admitted[c],
                                "refused": self.refused[c]} for c in CLASSES}}
