"""PaymentGatewayActor: the one door to the payment provider; it makes the calls the supervisor
hands it and reports how each ended."""

from __future__ import annotations

import random
import time
from typing import Any

from .. import clock
from ..config import RuntimeFacts, Settings
from ..payment.http import HttpProvider
from ..payment.provider import Provider, ProviderError, RetryLater
from ..payment.simulated import SimulatedProvider
from ..payment.toss import TossProvider
from ..secrets import TOSS_SECRET_KEY, secret
from . import offload
from .base import ServiceActor, handles
from .messages import (
    CallDone,
    Charge,
    ChargeApproved,
    ChargeDeclined,
    PaymentUnavailable,
    ProviderCall,
    RefundApproved,
    Start,
)


def make_provider(settings: Settings, facts: RuntimeFacts) -> Provider:
    p = settings.payment
    if p.provider == "http":
        return HttpProvider(p.provider_url, p.call_timeout_s)
    if p.provider == "toss":
        return TossProvider(p.toss, p.call_timeout_s, secret(TOSS_SECRET_KEY))
    return SimulatedProvider(facts.db_path)


class PaymentGatewayActor(ServiceActor):
    """Calls the provider; the supervisor (its parent) keeps the breaker and restarts it."""

    KIND = "payment_gateway"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = self.failed = 0

    @handles(Start)
    def on_start(self, message: Start, sender: Any) -> None:
        self.settings, self.parent, self.supervisor = message.settings, str(sender), sender
        self.facts = message.facts
        self.restarts = message.restarts
        self.provider = make_provider(self.settings, self.facts)
        self.timeout_s = self.settings.payment.call_timeout_s
        self.runtime_id = self.facts.runtime_id
        self.rng = random.Random()

    @handles(ProviderCall)
    def on_call(self, call: ProviderCall, sender: Any) -> None:
        self.calls += 1
        offload.run_or_inline(self, self.runtime_id, lambda: self.perform(call), self.on_call_done)

    @handles(CallDone)
    def on_call_done(self, done: CallDone, sender: Any) -> None:
        """Pass the end of a call on to the supervisor (offloaded ones come back here first)."""
        if done.answer is None:
            self.failed += 1
        self.send(self.supervisor, done)

    def perform(self, call: ProviderCall) -> CallDone:
        """One provider call with the injected faults; never raises."""
        started = time.monotonic()
        try:
            if call.delay_ms:
                wait = call.delay_ms / 1000
                time.sleep(min(wait, self.timeout_s))
                if wait > self.timeout_s:
                    raise ProviderError(f"no answer within {self.timeout_s * 1000:.0f} ms")
            if call.fail_rate and self.rng.random() < call.fail_rate:
                raise ProviderError("provider failed (injected fault)")
            answer = self._ask_provider(call.request)
        except RetryLater as exc:  # the provider is well: an answer, not a failure
            return CallDone(call.call_id, PaymentUnavailable(call.request.order_id,
                                                             exc.retry_after_s, exc.reason),
                            time.monotonic() - started)
        except ProviderError as exc:
            return CallDone(call.call_id, None, time.monotonic() - started, str(exc))
        except Exception as exc:  # a provider bug must not take the gateway down
            return CallDone(call.call_id, None, time.monotonic() - started, f"provider error: {exc!r}")
        return CallDone(call.call_id, answer, time.monotonic() - started)

    def _ask_provider(self, request):
        now = clock.now()
        if isinstance(request, Charge):
            out = self.provider.charge(request.order_id, request.amount, request.card_token, now)
            if out.ok:
                return ChargeApproved(request.order_id, out.reference, request.amount,
                                      request.method, out.approved_at, out.provider_method)
            return ChargeDeclined(request.order_id, out.reason)
        out = self.provider.refund(request.order_id, request.amount, now, request.payment_id,
                                   request.reason)
        if not out.ok:
            raise ProviderError(f"refund refused: {out.reason}")
        return RefundApproved(request.order_id, out.reference, request.amount)

    def describe(self) -> str:
        return f"calls={self.calls} failed={self.failed}" + (" crashed" if self.crashed else "")
