"""The order state machine: decide(state, command) -> events or a refusal; evolve(state, event)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import commands as c
from . import events as e
from .geo import distance_km
from .menu import MenuItem, OrderLine, price_order
from .refusal import Refusal
from .unpaid import NOT_PAID_IN_TIME

PLACED, PAID, ACCEPTED, COOKING, COOKED = "placed", "paid", "accepted", "cooking", "cooked"
PICKED_UP, COMPLETED, REJECTED, CANCELLED = "picked_up", "completed", "rejected", "cancelled"
STATUSES = (PLACED, PAID, ACCEPTED, COOKING, COOKED, PICKED_UP, COMPLETED, REJECTED, CANCELLED)
UNPAID, REFUND_PENDING, REFUNDED = "unpaid", "refund_pending", "refunded"
PAYMENT_STATUSES = (UNPAID, PAID, REFUND_PENDING, REFUNDED)
PAYMENT_METHODS = ("card",)
CANCELLABLE = (PLACED, PAID, ACCEPTED)
FINAL = (COMPLETED, REJECTED, CANCELLED)

Decision = tuple[e.Event, ...] | Refusal


@dataclass(frozen=True)
class OrderState:
    """Everything an order knows about itself, derived from its events."""

    id: str
    """Order id."""
    customer_id: str
    """Who ordered."""
    store_id: str
    """From which store."""
    status: str
    """One of STATUSES."""
    payment_status: str
    """One of PAYMENT_STATUSES."""
    payment_method: str | None
    """Method once paid."""
    payment_id: str | None
    """Provider's charge id once paid."""
    lines: tuple[OrderLine, ...]
    """Priced lines."""
    total: int
    """Sum in won."""
    delivery_address: c.Address
    """Where to deliver."""
    rider_id: str | None
    """The rider who picked it up."""
    reason: str | None
    """Why it was cancelled or rejected."""
    history: tuple[tuple[str, str], ...]
    """(status, at) for every status the order entered."""
    created_at: str
    """Time of the first event."""
    updated_at: str
    """Time of the last event."""
    version: int
    """Number of events so far."""

    @property
    def is_final(self) -> bool:
        """Nothing more will happen to this order (refund included)."""
        return self.status in FINAL and self.payment_status != REFUND_PENDING


def place(cmd: c.PlaceOrder, menu: Mapping[str, MenuItem] | None, now: str) -> Decision:
    """Decide a new order against its store's menu (None: the store is unknown)."""
    if menu is None:
        return Refusal("not_found", f"store {cmd.store_id!r} does not exist", "store_id")
    priced = price_order(menu, cmd.items)
    if isinstance(priced, Refusal):
        return priced
    lines, total = priced
    return (e.OrderPlaced(cmd.order_id, _event_id(cmd.order_id, 1), 1, now, cmd.customer_id,
                          cmd.store_id, lines, total, cmd.delivery_address),)


def decide(state: OrderState | None, cmd: c.Command, now: str) -> Decision:
    """The events a command causes on an existing order, or why it may not happen."""
    if state is None:
        return Refusal("not_found", f"order {cmd.order_id!r} does not exist")
    if isinstance(cmd, c.PlaceOrder):
        return () if cmd.customer_id == state.customer_id else Refusal(
            "conflict", f"order id {cmd.order_id!r} is taken")
    handler = _HANDLERS[type(cmd)]
    refusal = _check_owner(state, cmd)
    if refusal:
        return refusal
    return handler(state, cmd, _Next(state, now))


def check_payable(state: OrderState | None, cmd: c.PayOrder) -> Refusal | None:
    """Whether the gateway may be asked to charge this order now."""
    if state is None:
        return Refusal("not_found", f"order {cmd.order_id!r} does not exist")
    refusal = _check_owner(state, cmd)
    if refusal:
        return refusal
    if cmd.method not in PAYMENT_METHODS:
        return Refusal("invalid_field", f"payment method must be one of {', '.join(PAYMENT_METHODS)},"
                       f" got {cmd.method!r}", "method")
    if state.payment_status != UNPAID:
        return Refusal("already_paid", f"order is already paid (status {state.status})")
    if state.status != PLACED:
        return _invalid(state, "paid")
    return None


class _Next:
    """Builds the next event of an order: id, version and time filled in."""

    def __init__(self, state: OrderState, now: str) -> None:
        self.order_id, self.version, self.now = state.id, state.version + 1, now

    def __call__(self, event_type: type[e.Event], *fields: Any) -> tuple[e.Event, ...]:
        return (event_type(self.order_id, _event_id(self.order_id, self.version), self.version,
                           self.now, *fields),)


def _event_id(order_id: str, version: int) -> str:
    return f"{order_id}:{version}"


def _invalid(state: OrderState, target: str) -> Refusal:
    return Refusal("invalid_transition", f"order cannot become {target} while it is {state.status}")


def _check_owner(state: OrderState, cmd: c.Command) -> Refusal | None:
    customer = getattr(cmd, "customer_id", None)
    store = getattr(cmd, "store_id", None)
    if (customer is not None and customer != state.customer_id) or \
            (store is not None and store != state.store_id):
        # Someone else's order: answer as if it did not exist, so ids cannot be probed.
        return Refusal("not_found", f"order {state.id!r} does not exist")
    return None


def _record_payment(state: OrderState, cmd: c.RecordPayment, nxt: _Next) -> Decision:
    if state.payment_status != UNPAID:
        return ()  # a repeated approval of the same charge changes nothing
    if state.status == CANCELLED:
        # The money moved after the customer (or the expiry) cancelled: give it back.
        return nxt(e.PaymentAfterCancel, cmd.payment_id, cmd.method, cmd.amount)
    if state.status != PLACED:
        return _invalid(state, "paid")
    return nxt(e.OrderPaid, cmd.payment_id, cmd.method, cmd.amount, cmd.approved_at,
               cmd.provider_method)


def _store_step(source: str, target: str, event_type: type[e.Event]):
    def handle(state: OrderState, cmd: c.Command, nxt: _Next) -> Decision:
        if state.status != source:
            return _invalid(state, target)
        return nxt(event_type, *([cmd.reason] if isinstance(cmd, c.RejectOrder) else []))
    return handle


def _cancel(state: OrderState, cmd: c.CancelOrder, nxt: _Next) -> Decision:
    if state.status not in CANCELLABLE:
        return Refusal("order_not_cancellable",
                       f"order cannot be cancelled while it is {state.status}")
    return nxt(e.OrderCancelled, cmd.reason)


def _expire(state: OrderState, cmd: c.ExpireOrder, nxt: _Next) -> Decision:
    # Paid, cancelled or placed too recently (the sweep read a stale view): nothing to do.
    if state.status != PLACED or state.payment_status != UNPAID or \
            state.created_at > cmd.placed_before:
        return ()
    return nxt(e.OrderCancelled, NOT_PAID_IN_TIME)


def _pick_up(state: OrderState, cmd: c.PickUpOrder, nxt: _Next) -> Decision:
    if state.rider_id is not None:
        if state.rider_id == cmd.rider_id and state.status == PICKED_UP:
            return ()  # the winner retrying its own pick
        return Refusal("already_picked", f"order was already picked up (status {state.status})")
    if state.status != COOKED:
        return _invalid(state, PICKED_UP)
    if cmd.rider_location is None:
        return Refusal("out_of_range", "rider has no known location; report one first")
    distance = distance_km(cmd.rider_location, state.delivery_address.location)
    if distance > cmd.radius_km:
        return Refusal("out_of_range", f"rider is {distance:.2f} km from the delivery address, "
                                       f"more than {cmd.radius_km:g} km")
    return nxt(e.OrderPickedUp, cmd.rider_id)


def _unassign(state: OrderState, cmd: c.UnassignOrder, nxt: _Next) -> Decision:
    if state.status != PICKED_UP or state.rider_id is None:
        return _invalid(state, "unassigned")
    return nxt(e.OrderUnassigned, state.rider_id, cmd.reason)


def _confirm(state: OrderState, cmd: c.ConfirmDelivery, nxt: _Next) -> Decision:
    if state.status != PICKED_UP:
        return _invalid(state, COMPLETED)
    return nxt(e.DeliveryConfirmed)


def _record_refund(state: OrderState, cmd: c.RecordRefund, nxt: _Next) -> Decision:
    if state.payment_status == REFUNDED:
        return ()
    if state.payment_status != REFUND_PENDING:
        return Refusal("invalid_transition", f"order has no pending refund (payment {state.payment_status})")
    return nxt(e.RefundCompleted, cmd.refund_id, cmd.amount)


PROVIDER_CANCELLED = "payment cancelled at the payment provider"


def _record_provider_refund(state: OrderState, cmd: c.RecordProviderRefund,
                            nxt: _Next) -> Decision:
    """The provider cancelled the payment on its side: the refund is recorded once.

    An order paid and still cancellable is cancelled with it (the store is told); a pending
    refund is done; an order already cooking or further keeps its course with its payment
    refunded (the money is back with the customer; what to do with the food is the operator's
    call); an unpaid or refunded one has nothing to record.
    """
    if state.payment_status in (UNPAID, REFUNDED) or cmd.payment_id != state.payment_id:
        return ()
    if state.payment_status == REFUND_PENDING:
        return nxt(e.RefundCompleted, cmd.refund_id, cmd.amount)
    if state.status in CANCELLABLE:
        cancelled = nxt(e.OrderCancelled, cmd.reason or PROVIDER_CANCELLED)
        after = _Next(evolve(state, cancelled[0]), nxt.now)
        return cancelled + after(e.RefundCompleted, cmd.refund_id, cmd.amount)
    return nxt(e.RefundCompleted, cmd.refund_id, cmd.amount)


_HANDLERS = {
    c.RecordPayment: _record_payment,
    c.AcceptOrder: _store_step(PAID, ACCEPTED, e.OrderAccepted),
    c.RejectOrder: _store_step(PAID, REJECTED, e.OrderRejected),
    c.StartCooking: _store_step(ACCEPTED, COOKING, e.CookingStarted),
    c.FinishCooking: _store_step(COOKING, COOKED, e.CookingFinished),
    c.CancelOrder: _cancel,
    c.PickUpOrder: _pick_up,
    c.ConfirmDelivery: _confirm,
    c.RecordRefund: _record_refund,
    c.ExpireOrder: _expire,
    c.UnassignOrder: _unassign,
    c.RecordProviderRefund: _record_provider_refund,
}


def evolve(state: OrderState | None, event: e.Event) -> OrderState:
    """The state after an event."""
    if isinstance(event, e.OrderPlaced):
        return OrderState(event.order_id, event.customer_id, event.store_id, PLACED, UNPAID, None,
                          None, event.lines, event.total, event.delivery_address, None, None,
                          ((PLACED, event.at),), event.at, event.at, event.version)
    assert state is not None, "an order's first event is OrderPlaced"
    changes = _EFFECTS[type(event)](state, event)
    status = changes.get("status")
    history = state.history + ((status, event.at),) if status else state.history
    return replace(state, **changes, history=history, updated_at=event.at, version=event.version)


def _cancelled(state: OrderState, event: e.OrderCancelled) -> dict[str, Any]:
    refund = REFUND_PENDING if state.payment_status == PAID else state.payment_status
    return {"status": CANCELLED, "payment_status": refund, "reason": event.reason}


_EFFECTS = {
    e.OrderPaid: lambda s, ev: {"status": PAID, "payment_status": PAID,
                                "payment_method": ev.method, "payment_id": ev.payment_id},
    e.OrderAccepted: lambda s, ev: {"status": ACCEPTED},
    e.OrderRejected: lambda s, ev: {"status": REJECTED, "payment_status": REFUND_PENDING,
                                    "reason": ev.reason},
    e.CookingStarted: lambda s, ev: {"status": COOKING},
    e.CookingFinished: lambda s, ev: {"status": COOKED},
    e.OrderPickedUp: lambda s, ev: {"status": PICKED_UP, "rider_id": ev.rider_id},
    e.OrderUnassigned: lambda s, ev: {"status": COOKED, "rider_id": None},
    e.DeliveryConfirmed: lambda s, ev: {"status": COMPLETED},
    e.OrderCancelled: _cancelled,
    e.RefundCompleted: lambda s, ev: {"payment_status": REFUNDED},  # from PAID too: the
    # provider cancelled a payment of an order past cancelling (RecordProviderRefund)
    e.PaymentAfterCancel: lambda s, ev: {"payment_status": REFUND_PENDING,
                                         "payment_method": ev.method, "payment_id": ev.payment_id},
}


def replay(events) -> OrderState | None:
    """The state after a sequence of events (None for none)."""
    state = None
    for event in events:
        state = evolve(state, event)
    return state


def view(state: OrderState) -> dict[str, Any]:
    """The order view of API.md."""
    a = state.delivery_address
    return {
        "id": state.id, "customer_id": state.customer_id, "store_id": state.store_id,
        "status": state.status,
        "items": [{"menu_item_id": line.menu_item_id, "name": line.name, "price": line.price,
                   "quantity": line.quantity} for line in state.lines],
        "total": state.total,
        "payment": {"status": state.payment_status, "method": state.payment_method},
        "rider_id": state.rider_id,
        "delivery_address": {"lat": a.lat, "lon": a.lon, "text": a.text},
        "reason": state.reason,
        "history": [{"status": status, "at": at} for status, at in state.history],
        "created_at": state.created_at, "updated_at": state.updated_at, "version": state.version,
    }


def visible_to_rider(state: OrderState, rider_location, radius_km: float) -> bool:
    """A cooked, unpicked order is visible to riders within radius_km of its delivery address."""
    return (state.status == COOKED and state.rider_id is None and rider_location is not None
            and distance_km(rider_location, state.delivery_address.location) <= radius_km)
