"""Placed orders that wait for payment: how many a customer may keep, and when the system
cancels one (issue 12: one customer must not flood a store with orders it never pays)."""

from __future__ import annotations

from .refusal import Refusal

NOT_PAID_IN_TIME = "not paid in time"
"""Reason of the system's cancellation of an order left unpaid; the customer's notice says so."""


def check_cap(unpaid: int, cap: int) -> Refusal | None:
    """Whether a customer with `unpaid` orders waiting for payment may place one more."""
    if unpaid < cap:
        return None
    return Refusal("too_many_unpaid_orders",
                   f"{unpaid} placed orders wait for payment (at most {cap}); pay or cancel one first")
