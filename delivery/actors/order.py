"""OrderActor: one per order; decides commands, journals events, then tells the projector."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from thespian.actors import PoisonMessage

from .. import clock
from ..domain import commands as c
from ..domain import order, unpaid
from ..domain.refusal import Refusal
from ..persistence.db import COMMITTED, OPEN
from ..persistence.directory import Directory
from ..persistence.faults import StorageFault
from ..persistence.journal import Check, ConcurrencyConflict, Journal, Record, Refused
from .base import handles, storage_refusal
from .entity import EntityActor
from .messages import (
    Charge,
    ChargeApproved,
    ChargeDeclined,
    Committed,
    Envelope,
    PaymentUnavailable,
    Refund,
    RefundApproved,
    ResumeRefund,
    RetryRefund,
)

MAX_CONFLICT_RETRIES = 3


class OrderActor(EntityActor):
    """The live order: the only writer of its events."""

    KIND = "order"

    def activated(self) -> None:
        self.journal = Journal(self.db)
        # On simpleSystemBase every actor shares this process's connection, and the projector
        # commits the group before it answers anyone: one fsync for a whole batch of commands.
        self.grouped = self.settings.actors.in_process
        # On PostgreSQL other nodes may write this order too: each command first reads what
        # they appended since (one indexed query), so no decision is taken on a stale state.
        self.shared = self.settings.storage.postgres
        self.state = order.replay(self.journal.load(self.key))
        self.paying: tuple[Envelope, Any, c.PayOrder] | None = None
        self.paying_since = 0.0
        self.refunding = False
        self.unsaved_group = 0  # the group commit holding our last events, until it ends
        self._after_change()

    # -- commands -----------------------------------------------------------------------------
    @handles(c.AcceptOrder, c.RejectOrder, c.StartCooking, c.FinishCooking, c.CancelOrder,
             c.PickUpOrder, c.ConfirmDelivery, c.RecordPayment, c.UnassignOrder,
             c.RecordProviderRefund)
    def on_command(self, envelope: Envelope, sender: Any) -> None:
        self.execute(envelope.body, envelope, sender)

    @handles(c.PlaceOrder)
    def on_place(self, envelope: Envelope, sender: Any) -> None:
        cmd: c.PlaceOrder = envelope.body
        if self.state is None:
            menu = Directory(self.db).menu(cmd.store_id)
            self._commit(order.place(cmd, menu, clock.now()), envelope, sender, cmd,
                         self._unpaid_cap(cmd.customer_id))
        else:
            self.execute(cmd, envelope, sender)

    def _unpaid_cap(self, customer_id: str) -> Check:
        """The cap on unpaid orders, checked where the order is journalled: the read model may
        lag the journal, and a check before the append races the customer's other placements."""
        limits = self.settings.orders

        def check(conn: Any) -> Refusal | None:
            since = clock.ago(limits.unpaid_expiry_s)
            return unpaid.check_cap(self.journal.unpaid_orders(conn, customer_id, since),
                                    limits.max_unpaid)
        return check

    @handles(c.ExpireOrder)
    def on_expire(self, envelope: Envelope, sender: Any) -> None:
        if self.paying is None:  # a charge in flight decides; the next sweep comes back
            self.execute(envelope.body, None, None)

    def execute(self, cmd: c.Command, envelope: Envelope | None, sender: Any) -> None:
        self._commit(order.decide(self.state, cmd, clock.now()), envelope, sender, cmd)

    def _commit(self, decision: order.Decision, envelope: Envelope | None, sender: Any,
                cmd: c.Command, check: Check | None = None) -> None:
        for _ in range(MAX_CONFLICT_RETRIES):
            if isinstance(decision, Refusal):
                if envelope:
                    self.reply(envelope, sender, refusal=decision)
                return
            if not decision:  # nothing changes: answer with the current view
                if envelope:
                    self.reply(envelope, sender, order.view(self.state))
                return
            parties = self.state or decision[0]  # OrderPlaced names them for a new order
            try:
                records = self.journal.append_records(decision, parties.customer_id,
                                                      parties.store_id, self.grouped, check)
            except StorageFault as fault:
                self._storage_failed(fault, envelope, sender)
                return
            except Refused as refused:
                decision = refused.refusal
                continue
            except ConcurrencyConflict:
                # An older incarnation of this order wrote first: catch up and decide again.
                self.state = order.replay(self.journal.load(self.key))
                decision = (order.decide(self.state, cmd, clock.now()) if self.state
                            else order.place(cmd, Directory(self.db).menu(cmd.store_id), clock.now()))
                continue
            for event in decision:
                self.state = order.evolve(self.state, event)
            self.unsaved_group = self.db.group_gen if self.grouped else 0
            self._published(records, envelope, sender)
            self._after_change()
            return
        if envelope:
            self.reply(envelope, sender, refusal=Refusal("conflict", "order is busy, retry"))

    def _published(self, records: list[Record], envelope: Envelope | None, sender: Any) -> None:
        group, seq = self.unsaved_group, records[-1].seq
        if envelope and envelope.corr:
            committed = Committed(self.key, seq, order.view(self.state), envelope.corr,
                                  envelope.reply_to or sender, group)
        else:
            committed = Committed(self.key, seq, group=group)
        if group and self.db.outcome(group) == OPEN:
            # One process: the projector takes it when the pump ends the turn (FlushGroup), so
            # a message to say so would only be held until then.
            self.db.waiting.append(committed)
        else:
            self.send(self.peers.projector, committed)

    # -- storage faults ------------------------------------------------------------------------
    def receiveMessage(self, message: Any, sender: Any) -> None:
        self._forget_lost_events()
        if getattr(self, "shared", False) and isinstance(message, Envelope):
            self._catch_up_with_other_nodes()
        super().receiveMessage(message, sender)

    def _catch_up_with_other_nodes(self) -> None:
        try:
            newer = self.journal.load(self.key, self.state.version if self.state else 0)
        except StorageFault:
            return  # the command's own append meets the fault and answers it
        for event in newer:
            self.state = order.evolve(self.state, event)

    def _forget_lost_events(self) -> None:
        """Drop events whose group commit failed: the journal, not memory, is the truth.

        Checked before every message, so no decision is ever taken on an event that does not
        exist (the projector refuses the lost commands themselves).
        """
        if not getattr(self, "unsaved_group", 0):
            return
        outcome = self.db.outcome(self.unsaved_group)
        if outcome == OPEN:
            return
        self.unsaved_group = 0
        if outcome != COMMITTED:
            self.state = order.replay(self.journal.load(self.key))

    def _storage_failed(self, fault: StorageFault, envelope: Envelope | None, sender: Any) -> None:
        # The group this append joined is lost with it, earlier commands of this order included.
        self.unsaved_group = 0
        self.state = order.replay(self.journal.load(self.key))
        if envelope:
            self.reply(envelope, sender, refusal=storage_refusal(fault))

    def _after_change(self) -> None:
        if self.state is None:
            return
        if self.state.payment_status == order.REFUND_PENDING and not self.refunding:
            self.refunding = True
            self.send(self.peers.payment, Refund(self.key, self.state.payment_id or "",
                                                 self.state.total, self.state.reason or ""))
        elif self.state.is_final and self.paying is None:
            self.finished()

    # -- payment ---------------------------------------------------------------------------------
    @handles(c.PayOrder)
    def on_pay(self, envelope: Envelope, sender: Any) -> None:
        cmd: c.PayOrder = envelope.body
        refusal = order.check_payable(self.state, cmd)
        if refusal is None and self.paying is not None:
            if time.monotonic() - self.paying_since < self._charge_guard_s():
                refusal = Refusal("payment_in_progress", "a payment of this order is in progress")
            else:
                # The supervisor always answers within the call timeout; an answer this late
                # was lost with a dead actor, so this attempt replaces it (the provider's
                # idempotency by order id keeps it from charging twice).
                self._payment_failed(Refusal("payment_unavailable", "the payment gateway did not answer"))
        if refusal:
            self.reply(envelope, sender, refusal=refusal)
            return
        self.paying, self.paying_since = (envelope, sender, cmd), time.monotonic()
        self.send(self.peers.payment, Charge(self.key, self.state.total, cmd.method, cmd.card_token))

    def _charge_guard_s(self) -> float:
        timeouts = self.settings.actors.reply_timeout_s, 2 * self.settings.payment.call_timeout_s + 1
        return min(timeouts)

    @handles(ChargeApproved)
    def on_charge_approved(self, message: ChargeApproved, sender: Any) -> None:
        envelope, requester, _ = self.paying or (None, None, None)
        self.paying = None
        self.execute(c.RecordPayment(self.key, message.payment_id, message.method, message.amount,
                                     message.approved_at, message.provider_method),
                     envelope, requester)

    @handles(ChargeDeclined)
    def on_charge_declined(self, message: ChargeDeclined, sender: Any) -> None:
        self._payment_failed(Refusal("payment_declined", f"the card was declined: {message.reason}",
                                     "card_token"))

    @handles(PaymentUnavailable)
    def on_payment_unavailable(self, message: PaymentUnavailable, sender: Any) -> None:
        if self.paying is not None:
            self._payment_failed(Refusal("payment_unavailable", message.reason),
                                 message.retry_after_s)
        else:
            self._refund_later(message.retry_after_s)

    def _payment_failed(self, refusal: Refusal, retry_after_s: float | None = None) -> None:
        if self.paying is None:
            return
        envelope, requester, _ = self.paying
        self.paying = None
        if retry_after_s is not None:
            refusal = Refusal(refusal.code, f"{refusal.detail}; pay again in {retry_after_s:g} s",
                              refusal.field, retry_after_s)
        self.reply(envelope, requester, refusal=refusal)
        self._after_change()

    # -- refund ------------------------------------------------------------------------------------
    @handles(RefundApproved)
    def on_refund_approved(self, message: RefundApproved, sender: Any) -> None:
        self.refunding = False
        self.execute(c.RecordRefund(self.key, message.refund_id, message.amount), None, None)

    @handles(ResumeRefund, RetryRefund)
    def on_resume_refund(self, message: Any, sender: Any) -> None:
        self.refunding = False  # a refund request lost with a dead gateway is sent again
        self._after_change()

    def _refund_later(self, delay_s: float) -> None:
        self.wakeupAfter(timedelta(seconds=max(0.05, delay_s)), payload=RetryRefund())

    @handles(PoisonMessage)
    def on_poison(self, message: PoisonMessage, sender: Any) -> None:
        # The gateway failed on our message: treat it as unavailable, never as a decline.
        if isinstance(message.poisonMessage, Charge):
            self._payment_failed(Refusal("payment_unavailable", "the payment gateway failed"), 1.0)
        elif isinstance(message.poisonMessage, Refund):
            self._refund_later(1.0)

    def describe(self) -> str:
        if self.state is None:
            return "empty"
        return f"{self.state.status} payment={self.state.payment_status} v{self.state.version}"
