"""Guardian: the root actor; starts the singletons, re-drives unfinished work, describes the tree."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from ..store.db import Database
from ..store.readmodel import ReadModel
from .base import Gatherer, log
from .courier import Courier
from .messages import (
    ActorStats,
    Batch,
    Boot,
    Booted,
    Envelope,
    GetStats,
    Nudge,
    Peers,
    ResumeRefund,
    Start,
    Sweep,
)
from .notifier import Notifier
from .projector import Projector
from .registry import Registry
from .supervisor import PaymentSupervisor


class Guardian(Gatherer):
    """Parent of every singleton actor of the service."""

    KIND = "guardian"

    def on_boot(self, envelope: Envelope, sender: Any) -> None:
        self.settings = envelope.body.settings
        self.parent = "external"
        make = self.createActor
        self.peers = Peers(self.myAddress, make(Registry), make(Registry), make(Registry),
                           make(PaymentSupervisor), make(Projector), make(Notifier), make(Courier))
        # The projector first: the notifier reads the states it writes.
        for address, kind in ((self.peers.projector, ""), (self.peers.notifier, ""),
                              (self.peers.courier, ""),
                              (self.peers.payment, ""), (self.peers.orders, "order"),
                              (self.peers.stores, "store"), (self.peers.riders, "rider")):
            self.send(address, Start(self.settings, self.peers, kind))
        self.model = ReadModel(Database.shared(self.settings["actors"]["db_path"]))
        self._schedule_sweep()
        self.reply(envelope, sender, Booted(self.peers, os.getpid(), os.getsid(0)))

    def _schedule_sweep(self) -> None:
        self.wakeupAfter(timedelta(seconds=self.settings["actors"]["sweep_interval_s"]),
                         payload=Sweep())

    def on_wakeup(self, message: Any, sender: Any) -> None:
        if isinstance(message.payload, Sweep):
            self.sweep()
            self._schedule_sweep()
        elif isinstance(message.payload, tuple) and message.payload[0] == "gather":
            self.on_gather_timeout(message.payload[1])

    def sweep(self) -> None:
        """Re-drive what a lost message or a crash may have left undone."""
        self.send(self.peers.projector, Nudge(0))
        self.send(self.peers.notifier, Nudge(0))
        self.send(self.peers.courier, Nudge(0))
        for order_id in self.model.refund_pending():
            self.send(self.peers.orders, Envelope("", ResumeRefund(order_id)))

    def on_batch(self, batch: Batch, sender: Any) -> None:
        for target, envelope in batch.items:
            self.send(getattr(self.peers, target), Envelope(envelope.corr, envelope.body, sender))

    def on_sweep(self, envelope: Envelope, sender: Any) -> None:
        self.sweep()
        self.reply(envelope, sender, "swept")

    def children(self) -> list[Any]:
        p = self.peers
        return [p.projector, p.notifier, p.courier, p.payment, p.orders, p.stores, p.riders]

    def on_exit(self, message: Any, sender: Any) -> None:
        self.stopping = True

    def on_child_exited(self, message: Any, sender: Any) -> None:
        if not getattr(self, "stopping", False):
            log.error("singleton actor %s exited; the service must be restarted",
                      message.childAddress)

    HANDLERS = {Boot: "on_boot", Batch: "on_batch", GetStats: "on_get_stats", ActorStats: "on_actor_stats",
                Sweep: "on_sweep"}
