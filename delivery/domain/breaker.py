"""The circuit breaker in front of the payment provider, as pure code with an injected clock.

closed --(failure_threshold consecutive failures, a slow call counting as one)--> open
open --(reset timeout elapsed: the next call is the one trial)--> half_open
half_open --(trial succeeds)--> closed          half_open --(trial fails)--> open, reset timeout x2
half_open --(no word from the trial within max_trial_wait_s)--> open, as a failed trial
half_open --(trial released: it ended telling nothing of the provider)--> half_open, new trial

Every call let through holds a Permit and reports its end once: on_success, on_failure or release.
An outcome is judged against the state its call was let through in, so a call from before the
circuit opened can neither close it nor count against the circuit that followed.
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


@dataclass(frozen=True)
class Permit:
    """The breaker let a call through; its end is reported with this."""

    number: int
    """Unique per breaker, in the order the calls were let through."""
    generation: int
    """How many times the circuit had opened when the call was let through."""
    trial: bool
    """Whether this is the half-open circuit's one trial call."""
    at: float
    """Clock time the call was let through."""


class CircuitBreaker:
    """Counts failures of calls and refuses calls at once while the provider is deemed down."""

    def __init__(self, failure_threshold: int, call_timeout_s: float, reset_timeout_s: float,
                 max_reset_timeout_s: float, clock: Callable[[], float],
                 keep_transitions: int = 100, max_trial_wait_s: float | None = None) -> None:
        self.failure_threshold, self.call_timeout_s = failure_threshold, call_timeout_s
        self.base_reset_s, self.max_reset_s = reset_timeout_s, max_reset_timeout_s
        self.max_trial_wait_s = call_timeout_s if max_trial_wait_s is None else max_trial_wait_s
        self.clock, self.keep = clock, keep_transitions
        self.state, self.failures = CLOSED, 0
        self.reset_timeout_s = reset_timeout_s
        self.opened_at: float | None = None
        self.trial: Permit | None = None
        self.generation = self.issued = 0
        self.transitions: list[Transition] = []

    def before_call(self) -> Refused | Permit:
        """A Permit: go ahead and call, then report its end once; Refused: answer at once."""
        self._expire_trial()
        if self.state == OPEN:
            remaining = self.remaining_open_s()
            if remaining > 0:
                return Refused(remaining)
            self._move(HALF_OPEN, "reset timeout elapsed: one trial call")
        if self.state == HALF_OPEN:
            if self.trial is not None:
                return Refused(self.trial.at + self.max_trial_wait_s - self.clock())
            self.trial = self._permit(trial=True)
            return self.trial
        return self._permit(trial=False)

    def on_success(self, permit: Permit, elapsed_s: float) -> None:
        """Report a call that answered; one slower than the call timeout is a failure."""
        if not self._current(permit):
            return
        if elapsed_s > self.call_timeout_s:
            self._failed(permit, f"call took {elapsed_s * 1000:.0f} ms, over the "
                                 f"{self.call_timeout_s * 1000:.0f} ms call timeout")
            return
        self.failures = 0
        if permit.trial:
            self.trial = None
            self.reset_timeout_s = self.base_reset_s
            self._move(CLOSED, "trial call succeeded")

    def on_failure(self, permit: Permit, reason: str = "provider error") -> None:
        """Report a call that failed (an error, or no answer within the call timeout)."""
        if self._current(permit):
            self._failed(permit, reason)

    def release(self, permit: Permit) -> None:
        """Report a call that ended without telling anything of the provider (our own crash):
        it counts neither way, but a trial's slot is freed so that the next call is the trial."""
        if permit.trial and self._current(permit):
            self.trial = None

    def remaining_open_s(self) -> float:
        if self.state != OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.reset_timeout_s - self.clock())

    def _current(self, permit: Permit) -> bool:
        if permit.trial:
            return self.trial is not None and self.trial.number == permit.number
        return self.state == CLOSED and permit.generation == self.generation

    def _failed(self, permit: Permit, reason: str) -> None:
        self.failures += 1
        if permit.trial:
            self._trial_failed(reason)
        elif self.failures >= self.failure_threshold:
            self._open(f"{self.failures} consecutive failures, last: {reason}")

    def _expire_trial(self) -> None:
        # A trial that never reports (lost with a gateway, or a report that never comes) would
        # hold the half-open circuit shut for good (resilience4j's maxWaitDurationInHalfOpenState).
        if self.trial is not None and self.clock() - self.trial.at > self.max_trial_wait_s:
            self.failures += 1
            self._trial_failed(f"no word from it within {self.max_trial_wait_s:g} s")

    def _trial_failed(self, reason: str) -> None:
        self.trial = None
        self.reset_timeout_s = min(self.reset_timeout_s * 2, self.max_reset_s)
        self._open(f"trial call failed ({reason}); reset timeout now {self.reset_timeout_s:g} s")

    def _permit(self, trial: bool) -> Permit:
        self.issued += 1
        return Permit(self.issued, self.generation, trial, self.clock())

    def _open(self, reason: str) -> None:
        self.opened_at = self.clock()
        self.generation += 1
        self._move(OPEN, reason)

    def _move(self, target: str, reason: str) -> None:
        self.transitions.append(Transition(self.clock(), self.state, target, reason))
        del self.transitions[:-self.keep]
        self.state = target
