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


class ProviderError(Exception):
    """The provider failed to answer (overloaded, down, timed out)."""


class Provider(Protocol):
    """A payment provider; the order id is the idempotency key of charges and refunds."""

    def charge(self, order_id: str, amount: int, card_token: str, at: str) -> Outcome: ...

    def refund(self, order_id: str, amount: int, at: str) -> Outcome: ...
