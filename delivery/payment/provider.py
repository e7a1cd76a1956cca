"""What every payment provider offers the gateway, and the outcome of a call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outcome:
    """What the provider answered."""

    ok: bool
    """True: approved."""
    reference: str
    """Provider's id of the charge or refund ('' when not approved)."""
    reason: str = ""
    """Why not, when not approved."""
    approved_at: str = ""
    """The provider's time of approval, when it gives one (Toss: `approvedAt`)."""
    provider_method: str = ""
    """The provider's name of the means of payment, when it gives one (Toss: `method`, e.g. 카드)."""


@dataclass(frozen=True)
class Booking:
    """A charge in the provider's books, as its listing of charges shows it."""

    position: int
    """Where it stands in the provider's listing (a cursor: later charges have higher ones)."""
    order_id: str
    """The order charged (the idempotency key)."""
    reference: str
    """The provider's id of the charge."""
    amount: int
    """Won."""


class ProviderError(Exception):
    """The provider failed to answer (overloaded, down, timed out)."""


class RetryLater(Exception):
    """The provider is well but cannot answer this request yet (Toss: the same idempotent
    request is still being processed); not a failure of the provider, so the breaker is not
    told of one. The order is asked to try again after `retry_after_s`."""

    def __init__(self, reason: str, retry_after_s: float = 1.0) -> None:
        super().__init__(reason)
        self.reason, self.retry_after_s = reason, retry_after_s


class Provider(Protocol):
    """A payment provider; the order id is the idempotency key of charges and refunds."""

    def charge(self, order_id: str, amount: int, card_token: str, at: str) -> Outcome: ...

    def refund(self, order_id: str, amount: int, at: str, payment_id: str = "",
               reason: str = "") -> Outcome:
        """Give the whole charge back; `payment_id` is the provider's id of the charge and
        `reason` why (the order's cancel or reject reason)."""
        ...

    def charges_since(self, position: int, limit: int) -> list[Booking] | None:
        """Charges booked after `position`, oldest first (for reconciliation); None when the
        provider offers no such listing."""
        ...
