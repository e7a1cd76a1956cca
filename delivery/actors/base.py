"""What every actor of the service shares: handlers registered by reference, counters, injected
crashes, self-description, and the gathering of a subtree's statistics."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ClassVar

from thespian.actors import Actor, ActorExitRequest, ChildActorExited, WakeupMessage

from .. import clock
from ..domain.refusal import Refusal
from ..logs import InjectedFault
from ..persistence.faults import StorageFault
from .messages import (
    ActorInfo,
    ActorStats,
    CrashEntity,
    CrashGateway,
    Envelope,
    GatherTimeout,
    GetStats,
    Reply,
)

log = logging.getLogger("delivery.actors")


class _Received:
    """Messages received by the actors of this process, introspection aside. On
    simpleSystemBase that is every actor of the system (one system a process, as `serve`
    runs it): the console's history reads it each second instead of asking every actor."""

    n = 0


RECEIVED = _Received()

TALLY: Counter[tuple[str, str]] | None = None
"""When set (`run.py bench --costs`), every message received, by actor kind and message type."""

Handler = Callable[[Any, Any, Any], None]


def handles(*types: type) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of messages of these types.

    For an Envelope the type of its body counts; for a timer (WakeupMessage) the type of its
    payload. A subclass that overrides the method by name overrides the handler too.
    """
    def mark(method: Handler) -> Handler:
        method.handles = getattr(method, "handles", ()) + types  # type: ignore[attr-defined]
        return method
    return mark


class ServiceActor(Actor):
    """Base of the service's actors: dispatches each message to the handler of its type."""

    KIND: ClassVar[str] = "actor"
    dispatch: ClassVar[dict[type, str]] = {}
    crashed = False
    stopping = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                for message_type in getattr(member, "handles", ()):
                    table[message_type] = name
        cls.dispatch = table

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
            RECEIVED.n += 1
            if TALLY is not None:
                TALLY[(self.KIND, type(_body(message)).__name__)] += 1
        if isinstance(message, ActorExitRequest):
            self.stopping = True  # children exiting from now on are no crash
            self.on_stop()
            return
        if self.crashed and not isinstance(message, CrashGateway | CrashEntity):
            self.die()
        name = self.dispatch.get(_dispatch_type(message))
        if name is None:
            if not isinstance(message, ChildActorExited):
                log.warning("%s %s has no handler for %s", self.KIND, self.key,
                            type(_body(message)).__name__)
            return
        getattr(self, name)(_body(message) if isinstance(message, WakeupMessage) else message, sender)

    def on_stop(self) -> None:
        """Hook: the actor is about to stop (passivated, or the system shuts down)."""

    # -- injected crashes ----------------------------------------------------------------------------
    @handles(CrashGateway, CrashEntity)
    def on_crash(self, message: Any, sender: Any) -> None:
        """Fault injection: fail on every message from now on, until the parent replaces us."""
        self.crashed = True

    def die(self) -> None:
        """An injected crash: the process exits on a multi-process base; on simpleSystemBase the
        instance raises on every message until its parent replaces it."""
        settings = getattr(self, "settings", None)
        if settings is not None and not settings.actors.in_process:
            os._exit(70)
        raise InjectedFault(f"{self.KIND} {self.key} crashed (injected fault)")

    # -- replies ---------------------------------------------------------------------------
    def reply(self, envelope: Envelope, sender: Any, result: Any = None,
              refusal: Refusal | None = None) -> None:
        """Answer a request, to its original requester."""
        target = envelope.reply_to or sender
        if target is not None and envelope.corr:
            self.send(target, Reply(envelope.corr, result, refusal))

    def answer(self, request: Any, sender: Any, result: Any) -> None:
        """Answer a request that came in an Envelope (from the front door) or bare (from a peer)."""
        if isinstance(request, Envelope):
            self.reply(request, sender, result)
        else:
            self.send(sender, result)

    # -- self-description --------------------------------------------------------------------
    def describe(self) -> str:
        """A one-line summary of this actor's state for the admin console."""
        return ""

    def info(self) -> ActorInfo:
        return ActorInfo(str(self.myAddress), self.KIND, self.key, self.parent, os.getpid(),
                         self.started_at, self.restarts, self.messages_in, self.describe(),
                         _rss_kib())

    @handles(GetStats)
    def on_get_stats(self, message: GetStats | Envelope, sender: Any) -> None:
        request = _body(message)
        self.answer(message, sender, ActorStats(request.gather_id, (self.info(),)))


def storage_refusal(fault: StorageFault) -> Refusal:
    """The answer to a command whose write the disk did not take (503 storage_unavailable)."""
    return Refusal("storage_unavailable", f"the command was not saved: {fault.reason}; "
                   f"send it again in {fault.retry_after_s:g} s", None, fault.retry_after_s)


def _body(message: Any) -> Any:
    if isinstance(message, Envelope):
        return message.body
    if isinstance(message, WakeupMessage):
        return message.payload
    return message


def _dispatch_type(message: Any) -> type:
    return type(_body(message)) if isinstance(message, Envelope | WakeupMessage) else type(message)


def _rss_kib() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _introspection(message: Any) -> bool:
    return isinstance(_body(message), GetStats | ActorStats | GatherTimeout)


class Gatherer(ServiceActor):
    """An actor that answers GetStats for itself and the children it knows of."""

    GATHER_TIMEOUT_S = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gathers: dict[str, dict[str, Any]] = {}
        self._gather_seq = 0
        # One timer at a time for every gather in progress: Thespian cannot cancel a timer, and
        # on simpleSystemBase every pending one is looked at on every message of the system.
        self._gather_timer = False

    def children(self) -> list[Any]:
        """Addresses to ask when describing the subtree."""
        return []

    def own_stats(self, gather_id: str) -> ActorStats:
        return ActorStats(gather_id, (self.info(),))

    @handles(GetStats)
    def on_get_stats(self, message: GetStats | Envelope, sender: Any) -> None:
        request = _body(message)
        self._gather_seq += 1
        gid = f"{self.myAddress}#{self._gather_seq}"
        targets = self.children()
        self._gathers[gid] = {"pending": len(targets), "parts": [self.own_stats(request.gather_id)],
                              "request": message, "sender": sender, "for": request.gather_id,
                              "until": time.monotonic() + self.GATHER_TIMEOUT_S}
        for target in targets:
            self.send(target, GetStats(gid))
        if not targets:
            self._finish_gather(gid)
        elif not self._gather_timer:
            self._gather_timer = True
            self.wakeupAfter(timedelta(seconds=self.GATHER_TIMEOUT_S), payload=GatherTimeout(gid))

    @handles(ActorStats)
    def on_actor_stats(self, message: ActorStats, sender: Any) -> None:
        g = self._gathers.get(message.gather_id)
        if g is None:
            return  # a late answer to a gather already finished
        g["parts"].append(message)
        g["pending"] -= 1
        if g["pending"] <= 0:
            self._finish_gather(message.gather_id)

    @handles(GatherTimeout)
    def on_gather_timeout(self, timeout: GatherTimeout, sender: Any) -> None:
        """Answer with what came of every gather past its time; wait again for the others."""
        self._gather_timer, now = False, time.monotonic()
        for gid in [g for g, gather in self._gathers.items() if gather["until"] <= now]:
            self._finish_gather(gid)
        if self._gathers:
            self._gather_timer = True
            wait = min(g["until"] for g in self._gathers.values()) - now
            self.wakeupAfter(timedelta(seconds=max(0.01, wait)), payload=GatherTimeout(""))

    def _finish_gather(self, gid: str) -> None:
        g = self._gathers.pop(gid)
        actors, retired, live = [], 0, {}
        for part in g["parts"]:
            actors.extend(part.actors)
            retired += part.retired_messages
            for kind, n in part.live.items():
                live[kind] = live.get(kind, 0) + n
        self.answer(g["request"], g["sender"], ActorStats(g["for"], tuple(actors), retired, live))
