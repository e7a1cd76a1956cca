"""PaymentReconciler: brings the orders level with the provider's books.

A charge can be booked by the provider while its answer never reaches the order: the gateway
crashed with the call in flight, the supervisor gave up on it, or the whole service was killed.
The customer was then told to pay later and may never come back, but the money has moved. At
every sweep the reconciler reads the provider's listing of charges past its checkpoint and tells
each order that is still unpaid that it was paid (its payment, store delivery and notices then
follow as for any payment). The checkpoint moves past a charge only once its order shows it.
"""

from __future__ import annotations

import time
from typing import Any

from ..cluster.leases import RECONCILER
from ..domain import commands as c
from ..domain import order
from ..persistence import checkpoints
from ..persistence.db import Database
from ..persistence.readmodel import ReadModel
from . import offload
from .base import ServiceActor, handles, log
from .leased import LeaseHolder
from .messages import Bookings, Envelope, Nudge, Start
from .payment import make_provider

BATCH = 500


class PaymentReconciler(LeaseHolder, ServiceActor):
    """Reads the provider's charges in order and records the payments orders never heard of."""

    KIND = "payment_reconciler"
    LEASE = RECONCILER

    @handles(Start)
    def on_start(self, message: Start, sender: Any) -> None:
        self.parent, self.peers = str(sender), message.peers
        self.settings, self.facts = message.settings, message.facts
        self.init_leases(self.settings, self.facts)
        self.provider = make_provider(self.settings, self.facts)
        self.db = Database.shared(self.facts.db_path)
        self.model = ReadModel(self.db)
        self.position = checkpoints.position(self.db, checkpoints.PAYMENTS)
        # An answer can be this late and still reach the order the ordinary way.
        p = self.settings.payment
        self.grace_s = 2 * p.call_timeout_s + self.settings.actors.reply_timeout_s
        self.first_seen: dict[str, float] = {}
        self.listing = False
        self.recorded = self.unreconcilable = 0

    def leases_gained(self, gained: frozenset[str]) -> None:
        if self.LEASE in gained:  # the node that held it before may have moved on
            self.position = checkpoints.position(self.db, checkpoints.PAYMENTS)
            self.first_seen.clear()

    @handles(Nudge)
    def on_nudge(self, message: Nudge, sender: Any) -> None:
        if self.listing or not self.holds():
            return
        self.listing = True
        position, provider = self.position, self.provider
        offload.run_or_inline(self, self.facts.runtime_id,
                              lambda: _listing(provider, position), self.on_bookings)

    @handles(Bookings)
    def on_bookings(self, message: Bookings, sender: Any) -> None:
        self.listing = False
        if not message.charges:
            return
        now, settled, blocked = time.monotonic(), self.position, False
        for booking in message.charges:
            # Every charge is looked at; the checkpoint stops at the first one not yet shown
            # by its order, and the next sweep looks again from there.
            blocked = not self._reconciled(booking, now) or blocked
            if not blocked:
                settled = booking.position
        if settled != self.position:
            self.position = settled
            with self.db.transaction() as conn:
                checkpoints.save(conn, checkpoints.PAYMENTS, settled)

    def _reconciled(self, booking: Any, now: float) -> bool:
        """Whether the order shows the charge; if not, tell it once the grace has passed."""
        state = self.model.state(booking.order_id)
        if state is not None and state.payment_status != order.UNPAID:
            self.first_seen.pop(booking.order_id, None)
            return True
        seen = self.first_seen.setdefault(booking.order_id, now)
        if state is None or now - seen < self.grace_s:
            return False  # not projected yet, or its answer may still be on its way
        if state.status not in (order.PLACED, order.CANCELLED):
            # An unpaid order is placed or cancelled; anything else is a bug worth a human look.
            log.error("charge %s of order %s (status %s) matches no payable order; refund it at "
                      "the provider", booking.reference, booking.order_id, state.status)
            self.unreconcilable += 1
            self.first_seen.pop(booking.order_id, None)
            return True
        self.recorded += 1
        self.send(self.peers.orders, Envelope("", c.RecordPayment(
            booking.order_id, booking.reference, "card", booking.amount)))
        self.first_seen[booking.order_id] = now  # wait a grace again for it to show
        return False

    def describe(self) -> str:
        return (f"position={getattr(self, 'position', 0)} recorded={getattr(self, 'recorded', 0)}"
                f" unreconcilable={getattr(self, 'unreconcilable', 0)}")


def _listing(provider: Any, position: int) -> Bookings:
    try:
        charges = provider.charges_since(position, BATCH)
    except Exception as exc:  # an unreachable provider: try again at the next sweep
        log.warning("payment reconciliation could not list charges: %s", exc)
        charges = []
    return Bookings(tuple(charges or ()))
