"""PaymentSupervisor: parent of the payment gateway; restarts it with backoff and keeps the
circuit breaker in front of it, so that a customer is never left waiting for a sick provider."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from thespian.actors import ActorExitRequest, ChildActorExited, PoisonMessage

from .. import clock
from ..domain.backoff import Backoff
from ..domain.breaker import CircuitBreaker, Refused
from ..domain.calls import Calls, give_up_after_s
from .base import Gatherer, handles
from .messages import (
    CallDone,
    Charge,
    ChargeApproved,
    CheckDeadlines,
    CrashGateway,
    Envelope,
    GetFaults,
    GetPaymentStatus,
    InjectFault,
    PaymentUnavailable,
    ProviderCall,
    Refund,
    RestartGateway,
    Start,
)
from .payment import PaymentGatewayActor

DEADLINE_TICK_S = 0.05


def _wall(monotonic_at: float) -> str:
    """RFC 3339 time of a moment given on the monotonic clock."""
    at = datetime.now(UTC) - timedelta(seconds=time.monotonic() - monotonic_at)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class PaymentSupervisor(Gatherer):
    """Routes charges and refunds through the breaker to the gateway, and keeps the gateway alive."""

    KIND = "payment_supervisor"

    @handles(Start)
    def on_start(self, message: Start, sender: Any) -> None:
        self.settings, self.facts, self.parent = message.settings, message.facts, str(sender)
        p = self.settings.payment
        b, s = p.breaker, p.supervisor
        call_timeout_s = p.call_timeout_s
        give_up_after = give_up_after_s(call_timeout_s)
        # A trial waits as long as any call: a trial whose word is late only through our own
        # queueing must not count as failed any sooner than the supervisor gives up on it.
        self.breaker = CircuitBreaker(b.failure_threshold, call_timeout_s, b.reset_timeout_s,
                                      b.max_reset_timeout_s, time.monotonic,
                                      max_trial_wait_s=give_up_after)
        self.calls = Calls(self.breaker, give_up_after, time.monotonic)
        self.backoff = Backoff(s.min_backoff_s, s.max_backoff_s, s.random_factor,
                               s.stable_after_s, time.monotonic)
        self.watching = False
        self.faults: dict[str, dict[str, Any]] = {}
        self.rng = random.Random()
        self.gateway_restarts, self.last_restart_at, self.backoff_s = 0, None, 0.0
        self.restart_at: float | None = None
        self.gateway_events: list[dict[str, Any]] = []  # crashes and restarts, for the timeline
        self.gateway = None
        self._start_gateway()

    # -- the gateway's life ----------------------------------------------------------------------
    def _start_gateway(self) -> None:
        self.gateway = self.createActor(PaymentGatewayActor)
        self.send(self.gateway, Start(self.settings, self.facts, None, restarts=self.gateway_restarts))
        self.backoff.started()
        self.restart_at = None

    def _gateway_died(self, why: str) -> None:
        if self.gateway is None:
            return  # already restarting
        dead, self.gateway = self.gateway, None
        self.send(dead, ActorExitRequest())  # a no-op for a process that already exited
        self.backoff_s = self.backoff.next_delay()
        self._gateway_event("up", "down", f"crashed ({why}); restart in {self.backoff_s:.2f} s")
        self.restart_at = time.monotonic() + self.backoff_s
        self.wakeupAfter(timedelta(seconds=self.backoff_s), payload=RestartGateway())
        self._abandon_calls(f"payment gateway crashed ({why})")

    def _abandon_calls(self, why: str) -> None:
        for call in self.calls.abandon_all():
            if not call.given_up:
                self.send(call.requester, self._unavailable(call.request, why))

    def on_stop(self) -> None:
        if hasattr(self, "calls"):  # started: every call in flight is answered and released
            self._abandon_calls("the payment service is shutting down")

    def _gateway_event(self, source: str, target: str, reason: str) -> None:
        self.gateway_events.append({"at": clock.now(), "kind": "gateway", "from": source,
                                    "to": target, "reason": reason})
        del self.gateway_events[:-100]

    @handles(ChildActorExited)
    def on_child_exited(self, message: ChildActorExited, sender: Any) -> None:
        if message.childAddress == self.gateway:
            self._gateway_died("its process exited")

    @handles(PoisonMessage)
    def on_poison(self, message: PoisonMessage, sender: Any) -> None:
        if sender == self.gateway:
            self._gateway_died("it failed on a message")

    def children(self) -> list[Any]:
        return [self.gateway] if self.gateway is not None else []

    @handles(RestartGateway)
    def on_restart(self, message: RestartGateway, sender: Any) -> None:
        if self.gateway is None:
            self.gateway_restarts += 1
            self.last_restart_at = clock.now()
            self._start_gateway()
            self._gateway_event("down", "up", f"restarted (restart #{self.gateway_restarts})")

    # -- calls ---------------------------------------------------------------------------------------
    @handles(Charge, Refund)
    def on_request(self, request: Charge | Refund, sender: Any) -> None:
        if self.gateway is None:
            wait = max(0.0, (self.restart_at or 0) - time.monotonic()) + 0.1
            self.send(sender, PaymentUnavailable(request.order_id, round(wait, 3),
                                                 "the payment gateway is restarting"))
            return
        call = self.calls.start(sender, request)
        if isinstance(call, Refused):
            self.send(sender, PaymentUnavailable(request.order_id, self._spread(call.retry_after_s),
                                                 "the payment provider is unavailable"))
            return
        slow, fail = self.faults.get("slow", {}), self.faults.get("fail", {})
        self.send(self.gateway, ProviderCall(call.number, request, slow.get("delay_ms", 0),
                                             fail.get("rate", 0.0)))
        self._watch_deadlines()

    def _watch_deadlines(self) -> None:
        # The gateway may hang or lose a call: its requester must still get an answer. One timer
        # for all calls in flight, since every pending timer costs each message on simpleSystemBase.
        if self.calls.waiting() and not self.watching:
            self.watching = True
            self.wakeupAfter(timedelta(seconds=DEADLINE_TICK_S), payload=CheckDeadlines())

    @handles(CheckDeadlines)
    def on_check_deadlines(self, message: CheckDeadlines, sender: Any) -> None:
        self.watching = False
        for call in self.calls.overdue():
            self.send(call.requester,
                      self._unavailable(call.request, "no answer from the payment gateway in time"))
        self._watch_deadlines()

    @handles(CallDone)
    def on_call_done(self, done: CallDone, sender: Any) -> None:
        call = self.calls.answered(done.call_id, done.elapsed_s,
                                   None if done.answer is not None else done.error)
        if call is None:
            return
        if not call.given_up:
            self.send(call.requester, done.answer if done.answer is not None
                      else self._unavailable(call.request, done.error))
        elif isinstance(done.answer, ChargeApproved):
            # Too late for the customer, who was told to pay later; but the money moved,
            # so the order must know (it records the payment).
            self.send(call.requester, done.answer)

    def _unavailable(self, request: Charge | Refund, why: str) -> PaymentUnavailable:
        retry = self._spread(self.breaker.remaining_open_s() or 1.0)
        return PaymentUnavailable(request.order_id, retry, f"payment failed: {why}")

    def _spread(self, retry_after_s: float) -> float:
        # Everyone told "the circuit reopens in N s" would come back in the same second and meet
        # a half-open breaker that lets one call through: spread them over up to half as long.
        return round(retry_after_s + self.rng.uniform(0, max(1.0, retry_after_s) / 2), 3)

    # -- operations ------------------------------------------------------------------------------------
    @handles(InjectFault)
    def on_fault(self, envelope: Envelope, sender: Any) -> None:
        f: InjectFault = envelope.body
        if f.kind == "clear":
            self.faults.clear()
        elif f.kind == "crash":
            if self.gateway is not None:
                self.send(self.gateway, CrashGateway())
        elif f.kind == "slow":
            self.faults["slow"] = {"target": "payment", "kind": "slow", "delay_ms": f.delay_ms}
        elif f.kind == "fail":
            self.faults["fail"] = {"target": "payment", "kind": "fail", "rate": f.rate}
        self.reply(envelope, sender, list(self.faults.values()))

    @handles(GetFaults)
    def on_get_faults(self, envelope: Envelope, sender: Any) -> None:
        self.reply(envelope, sender, list(self.faults.values()))

    @handles(GetPaymentStatus)
    def on_status(self, envelope: Envelope, sender: Any) -> None:
        self.reply(envelope, sender, self.status())

    def status(self) -> dict[str, Any]:
        b = self.breaker
        return {
            "circuit": {"state": b.state, "failures": b.failures,
                        "opened_at": _wall(b.opened_at) if b.opened_at is not None else None,
                        "retry_after_s": round(b.remaining_open_s(), 3),
                        "reset_timeout_s": b.reset_timeout_s},
            "gateway": {"state": "up" if self.gateway is not None else "restarting",
                        "restarts": self.gateway_restarts, "last_restart_at": self.last_restart_at,
                        "backoff_s": round(self.backoff_s, 3), "in_flight": len(self.calls.open)},
            "transitions": [{"at": _wall(t.at), "from": t.source, "to": t.target, "reason": t.reason}
                            for t in b.transitions],
            "timeline": sorted([{"at": _wall(t.at), "kind": "circuit", "from": t.source,
                                 "to": t.target, "reason": t.reason} for t in b.transitions]
                               + self.gateway_events, key=lambda e: e["at"])[-100:],
            "faults": list(self.faults.values()),
        }

    def describe(self) -> str:
        return (f"circuit={self.breaker.state} failures={self.breaker.failures} "
                f"gateway={'up' if self.gateway is not None else 'restarting'} restarts={self.gateway_restarts}")
