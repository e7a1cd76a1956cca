"""Order changes pushed to event streams: one journal reader for every open stream.

Each tick reads the journal's new events once, for all streams together, and hands each event
to the streams watching its order. The journal, not the bridge's replies, is the source: it also
carries the changes no front-door command made (a refund the guardian finishes, an order changed
through another node), it is the same on both actor bases, and a restarted front door simply
starts reading at its head while each new stream catches up from the journal itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from ..persistence.journal import Journal

log = logging.getLogger("delivery.http")


class TooManyStreams(Exception):
    """The caller already holds as many streams as allowed."""


@dataclass(eq=False)
class Watch:
    """One open stream: the order it follows and the events waiting for it."""

    caller: Hashable
    """Who opened it (the cap counts per caller)."""
    order_id: str
    """The order it follows."""
    gone: Callable[[], bool]
    """Whether the client has left (checked every tick, so a silent stream is released too)."""
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    """Events of the order, oldest first; None once the client has left."""


class OrderFeed:
    """The streams open on this front door and the one task that feeds them."""

    def __init__(self, journal: Journal, max_per_caller: int) -> None:
        self.journal, self.max_per_caller = journal, max_per_caller
        self._woken = asyncio.Event()
        self.watches: set[Watch] = set()
        self.position = 0

    def open(self, caller: Hashable, order_id: str, gone: Callable[[], bool]) -> Watch:
        """Start following an order; TooManyStreams beyond the cap. Events committed before this
        call are the stream's own to load (`Journal.load`), later ones arrive on `events`."""
        if sum(1 for w in self.watches if w.caller == caller) >= self.max_per_caller:
            raise TooManyStreams(f"{self.max_per_caller} event streams are open for this token")
        if not self.watches:
            # Nothing was read while nobody watched; what lies before the head is loaded by
            # each stream itself, so the feed need not read it.
            self.position = self.journal.head()
        watch = Watch(caller, order_id, gone)
        self.watches.add(watch)
        return watch

    def close(self, watch: Watch) -> None:
        self.watches.discard(watch)

    def end(self, watch: Watch) -> None:
        """Release a stream now and tell its handler to finish."""
        self.watches.discard(watch)
        watch.events.put_nowait(None)

    def end_all(self) -> None:
        """Finish every stream (the front door is stopping)."""
        for watch in list(self.watches):
            self.end(watch)

    def tick(self) -> int:
        """Read the journal once for every stream, dispatch, wake streams whose client left;
        returns the events dispatched."""
        if not self.watches:
            return 0
        self.position, events = self.journal.watched_since(
            self.position, {w.order_id for w in self.watches})
        sent = 0
        for watch in list(self.watches):
            if watch.gone():
                self.end(watch)
                continue
            for event in events:
                if event.order_id == watch.order_id:
                    watch.events.put_nowait(event)
                    sent += 1
        return sent

    def wake_from(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        """A function any thread may call to make the next tick come at once (another node
        committed: its NOTIFY reaches this node's cluster thread)."""
        return lambda: loop.call_soon_threadsafe(self._woken.set)

    async def run(self, interval_s: float) -> None:
        """Tick every interval, or at once when woken, until cancelled; a failing read is logged
        and tried again at the next tick."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), interval_s)
            self._woken.clear()
            try:
                self.tick()
            except Exception:
                log.exception("the order feed could not read the journal")
