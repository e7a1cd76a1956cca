"""PaymentGatewayActor: the one door to the payment provider (charges and refunds)."""

from __future__ import annotations

from typing import Any

from .. import clock
from ..payment.simulated import ProviderError, SimulatedProvider
from ..store.db import Database
from .base import ServiceActor
from .messages import (
    Charge,
    ChargeApproved,
    ChargeDeclined,
    GetStats,
    PaymentUnavailable,
    Refund,
    RefundApproved,
    Start,
)


class PaymentGatewayActor(ServiceActor):
    """Calls the provider for each Charge or Refund and answers the order that asked."""

    KIND = "payment_gateway"

    def on_start(self, message: Start, sender: Any) -> None:
        self.settings, self.parent = message.settings, str(sender)
        self.provider = SimulatedProvider(Database.shared(self.settings["actors"]["db_path"]))
        self.charged = self.refunded = self.failed = 0

    def on_charge(self, m: Charge, sender: Any) -> None:
        try:
            outcome = self.provider.charge(m.order_id, m.amount, m.card_token, clock.now())
        except ProviderError as exc:
            self.failed += 1
            self.send(sender, PaymentUnavailable(m.order_id, 1.0, str(exc)))
            return
        if outcome.ok:
            self.charged += 1
            self.send(sender, ChargeApproved(m.order_id, outcome.reference, m.amount, m.method))
        else:
            self.send(sender, ChargeDeclined(m.order_id, outcome.reason))

    def on_refund(self, m: Refund, sender: Any) -> None:
        try:
            outcome = self.provider.refund(m.order_id, m.amount, clock.now())
        except ProviderError as exc:
            self.failed += 1
            self.send(sender, PaymentUnavailable(m.order_id, 1.0, str(exc)))
            return
        self.refunded += 1
        self.send(sender, RefundApproved(m.order_id, outcome.reference, m.amount))

    def describe(self) -> str:
        return f"charged={self.charged} refunded={self.refunded} failed={self.failed}"

    HANDLERS = {Start: "on_start", Charge: "on_charge", Refund: "on_refund",
                GetStats: "on_get_stats"}
