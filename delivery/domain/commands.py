"""Commands: to an order (decided by the order state machine), to a store and to a rider."""

from __future__ import annotations

from dataclasses import dataclass

from .geo import Location
from .menu import MenuItem


@dataclass(frozen=True)
class Address:
    """Where the food goes."""

    lat: float
    """Latitude of the door."""
    lon: float
    """Longitude of the door."""
    text: str
    """Street address as the customer wrote it."""

    @property
    def location(self) -> Location:
        return Location(self.lat, self.lon)


@dataclass(frozen=True)
class PlaceOrder:
    """A customer orders menu items from a store."""

    order_id: str
    """New order's id, chosen by the front door."""
    customer_id: str
    """Who orders."""
    store_id: str
    """From which store."""
    items: tuple[tuple[str, int], ...]
    """(menu_item_id, quantity) pairs."""
    delivery_address: Address
    """Where to deliver."""


@dataclass(frozen=True)
class PayOrder:
    """The customer pays a placed order."""

    order_id: str
    """Order to pay."""
    customer_id: str
    """Who pays; must own the order."""
    method: str
    """Payment method; "card"."""
    card_token: str
    """Tokenised card from the client's payment SDK."""


@dataclass(frozen=True)
class RecordPayment:
    """The gateway approved the charge of an order."""

    order_id: str
    """Order that was charged."""
    payment_id: str
    """The provider's id of the charge."""
    method: str
    """Payment method used."""
    amount: int
    """Amount charged in won."""
    approved_at: str = ""
    """The provider's time of approval ('' when it gives none)."""
    provider_method: str = ""
    """The provider's name of the means of payment (Toss: 카드, 간편결제, ...; '' when none)."""


@dataclass(frozen=True)
class AcceptOrder:
    """The store owner accepts a paid order."""

    order_id: str
    """Order to accept."""
    store_id: str
    """Acting store; must be the order's store."""


@dataclass(frozen=True)
class RejectOrder:
    """The store owner refuses a paid order; the payment is refunded."""

    order_id: str
    """Order to reject."""
    store_id: str
    """Acting store; must be the order's store."""
    reason: str
    """Why, for the customer."""


@dataclass(frozen=True)
class StartCooking:
    """The store owner starts cooking an accepted order."""

    order_id: str
    """Order being cooked."""
    store_id: str
    """Acting store; must be the order's store."""


@dataclass(frozen=True)
class FinishCooking:
    """The store owner finished cooking; riders can now see the delivery."""

    order_id: str
    """Order that is ready."""
    store_id: str
    """Acting store; must be the order's store."""


@dataclass(frozen=True)
class CancelOrder:
    """The customer cancels an order whose cooking has not started."""

    order_id: str
    """Order to cancel."""
    customer_id: str
    """Who cancels; must own the order."""
    reason: str
    """Why, for the store owner."""


@dataclass(frozen=True)
class PickUpOrder:
    """A rider picks a cooked order up; the first pick wins."""

    order_id: str
    """Order picked."""
    rider_id: str
    """Who picks it."""
    rider_location: Location | None
    """Where the rider is now, or None if the rider never reported a location."""
    radius_km: float
    """How far from the delivery address a rider may be (dispatch.radius_km)."""


@dataclass(frozen=True)
class ConfirmDelivery:
    """The customer confirms the food arrived; the order is complete."""

    order_id: str
    """Order delivered."""
    customer_id: str
    """Who confirms; must own the order."""


@dataclass(frozen=True)
class RecordRefund:
    """The gateway refunded a cancelled or rejected order's payment."""

    order_id: str
    """Order refunded."""
    refund_id: str
    """The provider's id of the refund."""
    amount: int
    """Amount refunded in won."""


@dataclass(frozen=True)
class RecordProviderRefund:
    """The provider shows the order's payment cancelled on its side (its webhook, verified by
    looking the payment up): the journal records the refund, once."""

    order_id: str
    """Order whose payment was cancelled at the provider."""
    payment_id: str
    """The provider's id of the charge that was cancelled."""
    refund_id: str
    """The provider's id of the cancel."""
    amount: int
    """Amount given back in won."""
    reason: str
    """The provider's cancel reason."""


@dataclass(frozen=True)
class ExpireOrder:
    """The system cancels an order placed before `placed_before` and still unpaid."""

    order_id: str
    """Order to expire."""
    placed_before: str
    """RFC 3339 time; an order placed later is left alone (orders.unpaid_expiry_s ago)."""


@dataclass(frozen=True)
class UnassignOrder:
    """The admin takes a picked order away from its rider; it waits for a rider again."""

    order_id: str
    """Order to unassign."""
    reason: str
    """Why, for the journal and the customer's message."""


Command = (PlaceOrder | PayOrder | RecordPayment | AcceptOrder | RejectOrder | StartCooking
           | FinishCooking | CancelOrder | PickUpOrder | ConfirmDelivery | RecordRefund
           | ExpireOrder | UnassignOrder | RecordProviderRefund)

COMMAND_TYPES: tuple[type, ...] = (
    PlaceOrder, PayOrder, RecordPayment, AcceptOrder, RejectOrder, StartCooking, FinishCooking,
    CancelOrder, PickUpOrder, ConfirmDelivery, RecordRefund, ExpireOrder, UnassignOrder,
    RecordProviderRefund,
)


# -- stores and riders -------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterStore:
    """Create a store with its menu; answered with its id."""

    store_id: str
    """New store's id."""
    name: str
    """Shown to customers."""
    owner_phone: str
    """Where the owner's messages go."""
    location: Location
    """Where the store is."""
    menu: tuple[MenuItem, ...]
    """What it sells."""
    token: str
    """The owner's bearer token (only its hash is stored)."""


@dataclass(frozen=True)
class RegisterRider:
    """Create a rider; answered with its id."""

    rider_id: str
    """New rider's id."""
    name: str
    """Rider's name."""
    phone: str
    """Rider's phone."""
    location: Location | None
    """Where the rider is now."""
    token: str
    """The rider's bearer token (only its hash is stored)."""


@dataclass(frozen=True)
class MoveRider:
    """A rider reports where it is."""

    rider_id: str
    """Who."""
    location: Location
    """Where."""


@dataclass(frozen=True)
class PickUp:
    """A rider asks to pick an order up; its actor adds its location and forwards it."""

    rider_id: str
    """Who picks."""
    order_id: str
    """What."""


STORE_COMMANDS: tuple[type, ...] = (RegisterStore,)
RIDER_COMMANDS: tuple[type, ...] = (RegisterRider, MoveRider, PickUp)

