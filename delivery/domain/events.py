"""Events of an order: facts in the past tense, the journal's records."""

from __future__ import annotations

from dataclasses import dataclass

from .commands import Address
from .menu import OrderLine


@dataclass(frozen=True)
class Event:
    """Fields every order event carries."""

    order_id: str
    """The order it belongs to."""
    event_id: str
    """Unique id, "<order_id>:<version>"; receivers deduplicate by it."""
    version: int
    """The order's sequence number: 1 for the first event, rising by one."""
    at: str
    """When it happened, RFC 3339 UTC."""


@dataclass(frozen=True)
class OrderPlaced(Event):
    """A customer placed an order."""

    customer_id: str
    """Who ordered."""
    store_id: str
    """From which store."""
    lines: tuple[OrderLine, ...]
    """Priced lines."""
    total: int
    """Sum in won."""
    delivery_address: Address
    """Where to deliver."""


@dataclass(frozen=True)
class OrderPaid(Event):
    """The order's payment was approved."""

    payment_id: str
    """The provider's charge id."""
    method: str
    """Payment method."""
    amount: int
    """Amount charged in won."""
    approved_at: str = ""
    """The provider's time of approval ('' when it gives none)."""
    provider_method: str = ""
    """The provider's name of the means of payment ('' when it gives none)."""


@dataclass(frozen=True)
class OrderAccepted(Event):
    """The store accepted the order."""


@dataclass(frozen=True)
class OrderRejected(Event):
    """The store refused the order; its payment is now to be refunded."""

    reason: str
    """The store's reason."""


@dataclass(frozen=True)
class CookingStarted(Event):
    """The store started cooking."""


@dataclass(frozen=True)
class CookingFinished(Event):
    """The food is ready for a rider."""


@dataclass(frozen=True)
class OrderPickedUp(Event):
    """A rider picked the food up."""

    rider_id: str
    """The rider who won the pick."""


@dataclass(frozen=True)
class OrderUnassigned(Event):
    """The admin took the order from its rider: it is cooked and unpicked again."""

    rider_id: str
    """The rider it was taken from."""
    reason: str
    """The admin's reason."""


@dataclass(frozen=True)
class DeliveryConfirmed(Event):
    """The customer confirmed delivery; the order is complete."""


@dataclass(frozen=True)
class OrderCancelled(Event):
    """The customer cancelled before cooking started, or the system cancelled an order left
    unpaid (reason `unpaid.NOT_PAID_IN_TIME`)."""

    reason: str
    """The customer's reason, or the system's."""


@dataclass(frozen=True)
class PaymentAfterCancel(Event):
    """A charge was approved for an order cancelled before it was paid (its answer came late,
    or only the provider's books showed it): the money is refunded."""

    payment_id: str
    """The provider's charge id."""
    method: str
    """Payment method."""
    amount: int
    """Amount charged in won."""


@dataclass(frozen=True)
class RefundCompleted(Event):
    """The payment of a cancelled or rejected order was refunded."""

    refund_id: str
    """The provider's refund id."""
    amount: int
    """Amount refunded in won."""


EVENT_TYPES: tuple[type[Event], ...] = (
    OrderPlaced, OrderPaid, OrderAccepted, OrderRejected, CookingStarted, CookingFinished,
    OrderPickedUp, DeliveryConfirmed, OrderCancelled, RefundCompleted, OrderUnassigned,
    PaymentAfterCancel,
)
