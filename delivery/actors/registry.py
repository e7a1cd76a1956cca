"""Registries: route messages to per-entity actors, activating and passivating them on demand."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from thespian.actors import ActorExitRequest

from .base import Gatherer
from .messages import (
    Activate,
    ActorStats,
    Envelope,
    Finished,
    GetStats,
    MoveRider,
    Nudge,
    PickUp,
    RegisterRider,
    RegisterStore,
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


class Registry(Gatherer):
    """Routes to the live actor of an entity; at most `cap` of them live at once (LRU eviction)."""

    KIND = "registry"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live: OrderedDict[str, Any] = OrderedDict()
        self.retired_messages = 0
        self.activations = 0
        self.passivations = 0

    def on_start(self, message: Start, sender: Any) -> None:
        self.entity, self.settings, self.peers = message.kind, message.settings, message.peers
        self.key, self.parent = message.kind, str(sender)
        self.cap = message.settings["actors"][CAPS[self.entity]]
        self.entity_class = _entity_class(self.entity)
        self.key_field = KEY_FIELDS[self.entity]

    def on_envelope(self, message: Envelope, sender: Any) -> None:
        if message.reply_to is None:
            message = Envelope(message.corr, message.body, sender)
        self.route(getattr(message.body, self.key_field), message)

    def on_nudge(self, message: Nudge, sender: Any) -> None:
        self.route(message.store_id, message)

    def route(self, key: str, message: Any) -> None:
        address = self.live.get(key)
        if address is None:
            address = self._activate(key)
        else:
            self.live.move_to_end(key)
        self.send(address, message)

    def _activate(self, key: str) -> Any:
        while len(self.live) >= self.cap:
            _, oldest = self.live.popitem(last=False)
            self._passivate(oldest)
        address = self.createActor(self.entity_class)
        self.send(address, Activate(key, self.settings, self.peers))
        self.live[key] = address
        self.activations += 1
        return address

    def _passivate(self, address: Any) -> None:
        # Anything already queued for it is handled before the exit request; a message arriving
        # later activates a fresh actor, and the journal's version check keeps the two apart.
        self.send(address, ActorExitRequest())
        self.passivations += 1

    def on_finished(self, message: Finished, sender: Any) -> None:
        if self.live.get(message.key) == sender:
            del self.live[message.key]
            self._passivate(sender)

    def on_retired(self, message: Retired, sender: Any) -> None:
        self.retired_messages += message.messages_in

    def on_child_exited(self, message: Any, sender: Any) -> None:
        for key, address in list(self.live.items()):
            if address == message.childAddress:
                del self.live[key]  # it died unasked; the next message re-activates it

    def on_wakeup(self, message: Any, sender: Any) -> None:
        if isinstance(message.payload, tuple) and message.payload[0] == "gather":
            self.on_gather_timeout(message.payload[1])

    def children(self) -> list[Any]:
        return list(self.live.values())

    def own_stats(self, gather_id: str) -> ActorStats:
        return ActorStats(gather_id, (self.info(),), self.retired_messages,
                          {self.entity: len(self.live)})

    def describe(self) -> str:
        return (f"{self.entity}s live={len(self.live)}/{self.cap} activations={self.activations}"
                f" passivations={self.passivations}")

    HANDLERS = {
        Start: "on_start", Nudge: "on_nudge", Finished: "on_finished", Retired: "on_retired",
        ActorStats: "on_actor_stats", GetStats: "on_get_stats",
    }


def _envelope_bodies() -> dict[type, str]:
    from ..domain.commands import COMMAND_TYPES

    bodies = (*COMMAND_TYPES, RegisterStore, RegisterRider, MoveRider, PickUp, ResumeRefund)
    return {body: "on_envelope" for body in bodies}


Registry.HANDLERS = {**Registry.HANDLERS, **_envelope_bodies()}
