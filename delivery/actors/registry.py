"""Registries: route messages to per-entity actors, activating and passivating them on demand."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from thespian.actors import ActorExitRequest, ChildActorExited, PoisonMessage

from ..cluster.leases import STORES
from ..domain.commands import COMMAND_TYPES, RIDER_COMMANDS, STORE_COMMANDS
from .base import Gatherer, handles, log
from .leased import LeaseHolder
from .messages import (
    Activate,
    ActorStats,
    Batch,
    CrashEntity,
    Envelope,
    Finished,
    GetFaults,
    InjectFault,
    Nudge,
    ResumeRefund,
    Retired,
    Start,
)

# Which attribute of a message names the entity it is for, per kind.
KEY_FIELDS = {"order": "order_id", "store": "store_id", "rider": "rider_id"}
CAPS = {"order": "max_live_orders", "store": "max_live_stores", "rider": "max_live_riders"}


def _entity_class(kind: str) -> type:
    from .order import OrderActor
    from .rider import RiderActor
    from .store import StoreActor

    return {"order": OrderActor, "store": StoreActor, "rider": RiderActor}[kind]


class Registry(LeaseHolder, Gatherer):
    """Routes to the live actor of an entity; at most `cap` of them live at once (LRU eviction).

    Stores catch up with their inbox only where this node holds their partition's lease: a
    nudge for a store of another node's partition is dropped here.
    """

    KIND = "registry"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live: OrderedDict[str, Any] = OrderedDict()
        self.down: set[str] = set()  # entities stopped on purpose (store management down)
        self.retired_messages = 0
        self.activations = 0
        self.crashes = 0
        self.passivations = 0

    @handles(Start)
    def on_start(self, message: Start, sender: Any) -> None:
        self.entity, self.settings, self.peers = message.kind, message.settings, message.peers
        self.facts = message.facts
        self.init_leases(self.settings, self.facts)
        self.key, self.parent = message.kind, str(sender)
        self.cap = getattr(message.settings.actors, CAPS[self.entity])
        self.entity_class = _entity_class(self.entity)
        self.key_field = KEY_FIELDS[self.entity]

    @handles(*COMMAND_TYPES, *STORE_COMMANDS, *RIDER_COMMANDS, ResumeRefund)
    def on_envelope(self, message: Envelope, sender: Any) -> None:
        if message.reply_to is None:
            message = Envelope(message.corr, message.body, sender)
        self.route(getattr(message.body, self.key_field), message)

    @handles(Batch)
    def on_batch(self, batch: Batch, sender: Any) -> None:
        """The guardian's share of a batch for this registry (each names its requester): each
        handled as if it had come alone."""
        for _, envelope in batch.items:
            name = self.dispatch.get(type(envelope.body))
            if name is None:
                log.warning("%s registry has no handler for %s", self.entity,
                            type(envelope.body).__name__)
                continue
            try:
                getattr(self, name)(envelope, sender)
            except Exception as exc:  # noqa: BLE001 - one request's failure is its own
                # Alone, it would have come back to its requester as a PoisonMessage; so it
                # does, and the rest of the batch goes on (handled once, not again on a retry).
                log.exception("%s registry failed on %s", self.entity, type(envelope.body).__name__)
                self.send(envelope.reply_to, PoisonMessage(envelope, repr(exc)))

    @handles(Nudge)
    def on_nudge(self, message: Nudge, sender: Any) -> None:
        if message.store_id not in self.down:  # a stopped store reads the journal when it is up
            self.route(message.store_id, message)

    @handles(InjectFault)
    def on_fault(self, envelope: Envelope, sender: Any) -> None:
        f: InjectFault = envelope.body
        key = f.store_id
        if f.kind == "down" and key:
            self.down.add(key)
            address = self.live.pop(key, None)
            if address is not None:
                self._passivate(address)  # really stopped, not flagged
        elif f.kind == "up" and key:
            self.down.discard(key)
            self.route(key, Nudge(0, key))  # back: it catches up with what it missed
        elif f.kind == "crash" and key and key not in self.down:
            address = self.live.get(key) or self._activate(key)
            self.send(address, CrashEntity())
        elif f.kind == "clear":
            for key in sorted(self.down):
                self.down.discard(key)
                self.route(key, Nudge(0, key))
        self.reply(envelope, sender, self.faults())

    @handles(GetFaults)
    def on_get_faults(self, envelope: Envelope, sender: Any) -> None:
        self.reply(envelope, sender, self.faults())

    def faults(self) -> list[dict[str, str]]:
        return [{"target": self.entity, "store_id": key, "kind": "down"} for key in sorted(self.down)]

    def route(self, key: str, message: Any) -> None:
        nudge = isinstance(message, Nudge)
        if nudge and not self.holds_store(key):
            return  # the node holding the store's partition fills its inbox
        address = self.live.get(key)
        if address is None:
            address = self._activate(key)
            if self.entity == "store" and not nudge and self.holds_store(key):
                self.send(address, Nudge(0, key))  # a store catches up when it comes alive
        else:
            self.live.move_to_end(key)
        self.send(address, message)

    def leases_gained(self, gained: frozenset[str]) -> None:
        if not any(lease.startswith(STORES) for lease in gained):
            return
        for key in list(self.live):  # the guardian's sweep brings the stores not live here
            if key not in self.down:
                self.route(key, Nudge(0, key))

    def _activate(self, key: str) -> Any:
        while len(self.live) >= self.cap:
            _, oldest = self.live.popitem(last=False)
            self._passivate(oldest)
        address = self.createActor(self.entity_class)
        self.send(address, Activate(key, self.settings, self.facts, self.peers))
        self.live[key] = address
        self.activations += 1
        return address

    def _passivate(self, address: Any) -> None:
        # Anything already queued for it is handled before the exit request; a message arriving
        # later activates a fresh actor, and the journal's version check keeps the two apart.
        self.send(address, ActorExitRequest())
        self.passivations += 1

    @handles(Finished)
    def on_finished(self, message: Finished, sender: Any) -> None:
        # Counted whether or not it is still ours: one evicted or forgotten already has its
        # exit request coming too, and is no longer among the live ones a gather asks.
        self.retired_messages += message.messages_in
        if self.live.get(message.key) == sender:
            del self.live[message.key]
            self._passivate(sender)

    @handles(Retired)
    def on_retired(self, message: Retired, sender: Any) -> None:
        self.retired_messages += message.messages_in

    @handles(ChildActorExited)
    def on_child_exited(self, message: Any, sender: Any) -> None:
        self._forget(message.childAddress, "its process exited")

    @handles(PoisonMessage)
    def on_poison(self, message: Any, sender: Any) -> None:
        self._forget(sender, "it failed on a message")

    def _forget(self, address: Any, why: str) -> None:
        """An entity died unasked: drop it; a store is started again at once to catch up."""
        if self.stopping:
            return  # the system is shutting down: children exiting now are no crash
        for key, live in list(self.live.items()):
            if live == address:
                del self.live[key]
                self.send(address, ActorExitRequest())  # a no-op for a process already gone
                self.crashes += 1
                log.warning("%s %s crashed (%s); restarting it on demand", self.entity, key, why)
                if self.entity == "store" and key not in self.down:
                    self.route(key, Nudge(0, key))

    def children(self) -> list[Any]:
        return list(self.live.values())

    def own_stats(self, gather_id: str) -> ActorStats:
        return ActorStats(gather_id, (self.info(),), self.retired_messages,
                          {self.entity: len(self.live)})

    def describe(self) -> str:
        return (f"{self.entity}s live={len(self.live)}/{self.cap} activations={self.activations}"
                f" passivations={self.passivations} crashes={self.crashes}"
                + (f" down={len(self.down)}" if self.down else ""))
