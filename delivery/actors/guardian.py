"""Guardian: the root actor; starts the singletons, re-drives unfinished work, describes the tree."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from thespian.actors import ChildActorExited

from .. import clock
from ..cluster.leases import SWEEP
from ..domain.commands import ExpireOrder
from ..persistence.db import Database
from ..persistence.inboxes import StoreInboxes
from ..persistence.readmodel import ReadModel
from .alimtalk_sender import AlimtalkSender
from .base import Gatherer, handles, log
from .leased import LeaseHolder
from .messages import (
    Batch,
    Boot,
    Booted,
    Envelope,
    Leases,
    Nudge,
    Peers,
    ResumeRefund,
    Start,
    Sweep,
    SweepDue,
)
from .notifier import Notifier
from .projector import Projector
from .reconciler import PaymentReconciler
from .registry import Registry
from .supervisor import PaymentSupervisor
from .webhook_sender import WebhookSender

REGISTRIES = ("orders", "stores", "riders")


class Guardian(LeaseHolder, Gatherer):
    """Parent of every singleton actor of the service; it hears which leases this node holds
    and tells the consumers."""

    KIND = "guardian"
    LEASE = SWEEP

    @handles(Boot)
    def on_boot(self, envelope: Envelope, sender: Any) -> None:
        self.settings, self.facts = envelope.body.settings, envelope.body.facts
        self.parent = "external"
        self.init_leases(self.settings, self.facts)
        make = self.createActor
        self.peers = Peers(self.myAddress, make(Registry), make(Registry), make(Registry),
                           make(PaymentSupervisor), make(Projector), make(Notifier),
                           make(WebhookSender), make(PaymentReconciler), make(AlimtalkSender))
        # The projector first: the notifier reads the states it writes.
        for address, kind in ((self.peers.projector, ""), (self.peers.notifier, ""),
                              (self.peers.webhook_sender, ""), (self.peers.reconciler, ""),
                              (self.peers.alimtalk_sender, ""),
                              (self.peers.payment, ""), (self.peers.orders, "order"),
                              (self.peers.stores, "store"), (self.peers.riders, "rider")):
            self.send(address, Start(self.settings, self.facts, self.peers, kind))
        db = Database.shared(self.facts.db_path)
        self.model, self.inboxes = ReadModel(db), StoreInboxes(db)
        self._schedule_sweep()
        self.reply(envelope, sender, Booted(self.peers, os.getpid(), os.getsid(0)))

    def _schedule_sweep(self) -> None:
        self.wakeupAfter(timedelta(seconds=self.settings.actors.sweep_interval_s),
                         payload=SweepDue())

    @handles(SweepDue)
    def on_sweep_due(self, message: SweepDue, sender: Any) -> None:
        self.sweep()
        self._schedule_sweep()

    def sweep(self) -> None:
        """Re-drive what a lost message or a crash may have left undone."""
        self.send(self.peers.projector, Nudge(0))
        self.send(self.peers.notifier, Nudge(0))
        self.send(self.peers.webhook_sender, Nudge(0))
        self.send(self.peers.alimtalk_sender, Nudge(0))
        self.send(self.peers.reconciler, Nudge(0))
        # A store whose nudge was lost (its actor passivated, the service killed after the
        # projector moved on) catches up here.
        for store_id in self.inboxes.stores_behind():
            if self.holds_store(store_id):
                self.send(self.peers.stores, Nudge(0, store_id))
        if not self.holds():
            return  # another node re-drives refunds and expires unpaid orders
        for order_id in self.model.refund_pending():
            self.send(self.peers.orders, Envelope("", ResumeRefund(order_id)))
        self._expire_unpaid()

    def _expire_unpaid(self) -> None:
        """Cancel orders left unpaid for orders.unpaid_expiry_s, through their order actors (the
        journal records it, the customer is told). The order decides again on its own state, so
        an order paid since the read model was projected stays paid."""
        cutoff = clock.ago(self.settings.orders.unpaid_expiry_s)
        for order_id in self.model.unpaid_before(cutoff):
            self.send(self.peers.orders, Envelope("", ExpireOrder(order_id, cutoff)))

    @handles(Leases)
    def on_leases(self, message: Leases, sender: Any) -> None:
        """From this node's cluster thread: tell the consumers, and take up what was gained."""
        p = self.peers
        for address in (p.notifier, p.webhook_sender, p.alimtalk_sender, p.reconciler, p.stores):
            self.send(address, message)
        super().on_leases(message, sender)

    def leases_gained(self, gained: frozenset[str]) -> None:
        self.sweep()  # stores behind in the partitions taken over, refunds, unpaid orders

    @handles(Batch)
    def on_batch(self, batch: Batch, sender: Any) -> None:
        # One message per registry, not one per request: a registry routes a batch itself.
        by_target: dict[str, list[tuple[str, Envelope]]] = {}
        for target, envelope in batch.items:
            by_target.setdefault(target, []).append(
                (target, Envelope(envelope.corr, envelope.body, sender)))
        for target, items in by_target.items():
            address = getattr(self.peers, target)
            if target in REGISTRIES:
                self.send(address, Batch(tuple(items)))
            else:
                for _, envelope in items:
                    self.send(address, envelope)

    @handles(Sweep)
    def on_sweep(self, envelope: Envelope, sender: Any) -> None:
        self.sweep()
        self.reply(envelope, sender, "swept")

    def children(self) -> list[Any]:
        p = self.peers
        return [p.projector, p.notifier, p.webhook_sender, p.alimtalk_sender, p.reconciler,
                p.payment, p.orders,
                p.stores, p.riders]

    @handles(ChildActorExited)
    def on_child_exited(self, message: Any, sender: Any) -> None:
        if not self.stopping:
            log.error("singleton actor %s exited; the service must be restarted",
                      message.childAddress)
