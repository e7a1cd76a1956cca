"""The circuit breaker in front of the payment provider, as pure code with an injected clock.

closed --(failure_threshold consecutive failures, a slow call counting as one)--> open
open --(reset timeout elapsed: the next call is the one trial)--> half_open
half_open --(trial succeeds)--> closed          half_open --(trial fails)--> open, reset timeout x2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class Transition:
    """A change of the breaker's state."""

    at: float
    """Clock time of the change."""
    source: str
    """State before."""
    target: str
    """State after."""
    reason: str
    """Why, for the operator."""


@dataclass(frozen=True)
class Refused:
    """The breaker refused a call without trying it."""

    retry_after_s: float
    """How long until a call may be tried again."""


class CircuitBreaker:
    """Counts failures of calls and refuses calls at once while the provider is deemed down."""

    def __init__(self, failure_threshold: int, call_timeout_s: float, reset_timeout_s: float,
                 max_reset_timeout_s: float, clock: Callable[[], float],
                 keep_transitions: int = 100) -> None:
        self.failure_threshold, self.call_timeout_s = failure_threshold, call_timeout_s
        self.base_reset_s, self.max_reset_s = reset_timeout_s, max_reset_timeout_s
        self.clock, self.keep = clock, keep_transitions
        self.state, self.failures = CLOSED, 0
        self.reset_timeout_s = reset_timeout_s
        self.opened_at: float | None = None
        self.trial_in_flight = False
        self.transitions: list[Transition] = []

    def before_call(self) -> Refused | None:
        """None: go ahead and call (and report the outcome); Refused: answer at once."""
        if self.state == OPEN:
            remaining = self.remaining_open_s()
            if remaining > 0:
                return Refused(remaining)
            self._move(HALF_OPEN, "reset timeout elapsed: one trial call")
        if self.state == HALF_OPEN:
            if self.trial_in_flight:
                return Refused(self.call_timeout_s)
            self.trial_in_flight = True
        return None

    def on_success(self, elapsed_s: float) -> None:
        """Report a call that answered; one slower than the call timeout is a failure."""
        if elapsed_s > self.call_timeout_s:
            self.on_failure(f"call took {elapsed_s * 1000:.0f} ms, over the "
                            f"{self.call_timeout_s * 1000:.0f} ms call timeout")
            return
        self.failures = 0
        if self.state == HALF_OPEN:
            self.trial_in_flight = False
            self.reset_timeout_s = self.base_reset_s
            self._move(CLOSED, "trial call succeeded")

    def on_failure(self, reason: str = "provider error") -> None:
        """Report a call that failed (an error, or no answer within the call timeout)."""
        self.failures += 1
        if self.state == HALF_OPEN:
            self.trial_in_flight = False
            self.reset_timeout_s = min(self.reset_timeout_s * 2, self.max_reset_s)
            self._open(f"trial call failed ({reason}); reset timeout now {self.reset_timeout_s:g} s")
        elif self.state == CLOSED and self.failures >= self.failure_threshold:
            self._open(f"{self.failures} consecutive failures, last: {reason}")

    def remaining_open_s(self) -> float:
        if self.state != OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.reset_timeout_s - self.clock())

    def _open(self, reason: str) -> None:
        self.opened_at = self.clock()
        self._move(OPEN, reason)

    def _move(self, target: str, reason: str) -> None:
        self.transitions.append(Transition(self.clock(), self.state, target, reason))
        del self.transitions[:-self.keep]
        self.state = target
