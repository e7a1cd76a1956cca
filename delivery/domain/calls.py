"""The payment supervisor's book of provider calls, as pure code with an injected clock: every
call the breaker lets through reports its end to the breaker exactly once.

Slowness is the gateway's measurement of the provider call (`elapsed_s` of its report), never
the time since the supervisor asked: on one busy actor thread that time includes our own
queueing, and our overload must not pass for the provider's. The supervisor's deadline is only a
safety net for a gateway that hangs or lost a call: it answers the requester, tells the breaker
nothing, and keeps waiting for the gateway's word, which is what the breaker hears.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .breaker import CircuitBreaker, Permit, Refused

MAX_GIVEN_UP = 1000


def give_up_after_s(call_timeout_s: float) -> float:
    """How long the supervisor waits for the gateway before answering the requester itself.
    The gateway bounds each provider call by the call timeout, so anything beyond that plus a
    generous margin (our queueing, a scheduling hiccup) means the gateway hangs or lost the call."""
    return call_timeout_s + max(0.5, call_timeout_s)


@dataclass
class Call:
    """A provider call whose end the breaker has not heard yet."""

    number: int
    """The supervisor's number for the call (the gateway echoes it)."""
    requester: Any
    """Whom to answer."""
    request: Any
    """What was asked of the provider."""
    permit: Permit
    """The breaker's permission, to report the end with."""
    deadline: float
    """Clock time after which the requester is answered without waiting for the gateway."""
    given_up: bool = False
    """Whether the requester was already answered (past the deadline)."""


class Calls:
    """Calls in flight between the supervisor and the gateway, each ending once for the breaker."""

    def __init__(self, breaker: CircuitBreaker, give_up_after: float,
                 clock: Callable[[], float]) -> None:
        self.breaker, self.give_up_after, self.clock = breaker, give_up_after, clock
        self.open: OrderedDict[int, Call] = OrderedDict()
        self.last = 0

    def start(self, requester: Any, request: Any) -> Call | Refused:
        """Ask the breaker; a Call to hand to the gateway, or the breaker's refusal."""
        permit = self.breaker.before_call()
        if isinstance(permit, Refused):
            return permit
        self.last += 1
        call = Call(self.last, requester, request, permit, self.clock() + self.give_up_after)
        self.open[call.number] = call
        return call

    def answered(self, number: int, elapsed_s: float, error: str | None = None) -> Call | None:
        """The gateway's report of how the provider call went (error None: it answered).
        Returns the call, or None if it had already ended (a report for it is not counted twice)."""
        call = self.open.pop(number, None)
        if call is None:
            return None
        if error is None:
            self.breaker.on_success(call.permit, elapsed_s)
        else:
            self.breaker.on_failure(call.permit, error)
        return call

    def overdue(self) -> list[Call]:
        """Calls past their deadline not yet given up: their requesters are to be answered now.
        The breaker is not told (the gateway's report, if it ever comes, tells it the truth)."""
        now, due = self.clock(), []
        for call in self.open.values():
            if not call.given_up and now > call.deadline:
                call.given_up = True
                due.append(call)
        self._forget_oldest_given_up()
        return due

    def abandon_all(self) -> list[Call]:
        """The gateway died (or we shut down): every call ends without a word on the provider.
        A gateway crash is our fault, not the provider's, so it counts neither way; releasing the
        permits frees a half-open circuit's trial slot for the next call."""
        calls = list(self.open.values())
        self.open.clear()
        for call in calls:
            self.breaker.release(call.permit)
        return calls

    def waiting(self) -> int:
        """Calls whose requester still waits for an answer."""
        return sum(not call.given_up for call in self.open.values())

    def _forget_oldest_given_up(self) -> None:
        # A gateway that hangs for good would otherwise keep every given-up call forever.
        given_up = [n for n, call in self.open.items() if call.given_up]
        for number in given_up[:max(0, len(given_up) - MAX_GIVEN_UP)]:
            self.breaker.release(self.open.pop(number).permit)
