"""What every actor of the service shares: a type -> handler table, counters, self-description."""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

from thespian.actors import Actor, ActorExitRequest, ChildActorExited, PoisonMessage, WakeupMessage

from .. import clock
from ..domain.refusal import Refusal
from .messages import ActorInfo, ActorStats, Envelope, GetStats, Reply

log = logging.getLogger("delivery.actors")


class ServiceActor(Actor):
    """Base of the service's actors: dispatches on message type through HANDLERS."""

    KIND: ClassVar[str] = "actor"
    HANDLERS: ClassVar[dict[type, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages_in = 0
        self.started_at = clock.now()
        self.key = ""
        self.parent = ""
        self.restarts = 0

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if not _introspection(message):
            self.messages_in += 1  # looking at the system must not change what it counts
        handler = self._handler_for(message)
        if handler is None:
            log.debug("%s ignores %s", self.KIND, type(message).__name__)
            return
        handler(message, sender)

    def _handler_for(self, message: Any):
        name = self.HANDLERS.get(type(message))
        if name is None and isinstance(message, Envelope):
            name = self.HANDLERS.get(type(message.body))
        if name is None:
            name = _THESPIAN.get(type(message))
        return getattr(self, name, None) if name else None

    # -- replies ---------------------------------------------------------------------------
    def reply(self, envelope: Envelope, sender: Any, result: Any = None,
              refusal: Refusal | None = None) -> None:
        """Answer a request, to its original requester."""
        target = envelope.reply_to or sender
        if target is not None and envelope.corr:
            self.send(target, Reply(envelope.corr, result, refusal))

    # -- self-description --------------------------------------------------------------------
    def describe(self) -> str:
        """A one-line summary of this actor's state for the admin console."""
        return ""

    def info(self) -> ActorInfo:
        return ActorInfo(str(self.myAddress), self.KIND, self.key, self.parent, os.getpid(),
                         self.started_at, self.restarts, self.messages_in, self.describe(),
                         _rss_kib())

    def on_get_stats(self, message: GetStats | Envelope, sender: Any) -> None:
        request = message.body if isinstance(message, Envelope) else message
        stats = ActorStats(request.gather_id, (self.info(),))
        if isinstance(message, Envelope):
            self.reply(message, sender, stats)
        else:
            self.send(sender, stats)


def _rss_kib() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _introspection(message: Any) -> bool:
    body = message.body if isinstance(message, Envelope) else message
    if isinstance(message, WakeupMessage):
        body = message.payload
        return isinstance(body, tuple) and bool(body) and body[0] == "gather"
    return isinstance(body, GetStats | ActorStats)


_THESPIAN = {
    ActorExitRequest: "on_exit",
    ChildActorExited: "on_child_exited",
    WakeupMessage: "on_wakeup",
    PoisonMessage: "on_poison",
}


class Gatherer(ServiceActor):
    """An actor that answers GetStats for itself and the children it knows of."""

    GATHER_TIMEOUT_S = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gathers: dict[str, dict[str, Any]] = {}
        self._gather_seq = 0

    def children(self) -> list[Any]:
        """Addresses to ask when describing the subtree."""
        return []

    def own_stats(self, gather_id: str) -> ActorStats:
        return ActorStats(gather_id, (self.info(),))

    def on_get_stats(self, message: GetStats | Envelope, sender: Any) -> None:
        from datetime import timedelta

        request = message.body if isinstance(message, Envelope) else message
        self._gather_seq += 1
        gid = f"{self.myAddress}#{self._gather_seq}"
        targets = self.children()
        self._gathers[gid] = {"pending": len(targets), "parts": [self.own_stats(request.gather_id)],
                              "request": message, "sender": sender, "for": request.gather_id}
        for target in targets:
            self.send(target, GetStats(gid))
        if targets:
            self.wakeupAfter(timedelta(seconds=self.GATHER_TIMEOUT_S), payload=("gather", gid))
        else:
            self._finish_gather(gid)

    def on_actor_stats(self, message: ActorStats, sender: Any) -> None:
        g = self._gathers.get(message.gather_id)
        if g is None:
            return  # a late answer to a gather already finished
        g["parts"].append(message)
        g["pending"] -= 1
        if g["pending"] <= 0:
            self._finish_gather(message.gather_id)

    def on_gather_timeout(self, gid: str) -> None:
        if gid in self._gathers:
            self._finish_gather(gid)

    def _finish_gather(self, gid: str) -> None:
        g = self._gathers.pop(gid)
        actors, retired, live = [], 0, {}
        for part in g["parts"]:
            actors.extend(part.actors)
            retired += part.retired_messages
            for kind, n in part.live.items():
                live[kind] = live.get(kind, 0) + n
        stats = ActorStats(g["for"], tuple(actors), retired, live)
        request, sender = g["request"], g["sender"]
        if isinstance(request, Envelope):
            self.reply(request, sender, stats)
        else:
            self.send(sender, stats)
