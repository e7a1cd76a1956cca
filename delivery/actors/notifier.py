"""Notifier: the customer's and the store owner's messages, one per event and recipient."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..cluster.leases import NOTIFIER
from ..domain import order
from ..domain.events import OrderPlaced
from ..domain.notices import notices_for
from ..domain.order import OrderState
from ..jsontext import dumps
from ..notify import alimtalk, templates
from ..notify.webhook import alimtalk_message
from ..persistence import checkpoints, notices, outbox
from ..persistence.directory import Directory
from ..persistence.journal import Record
from ..persistence.readmodel import ReadModel, Recent
from .consumer import JournalConsumer
from .messages import Nudge

REMEMBERED_STATES = 4096
"""Orders whose state the notifier keeps between records."""


class Notifier(JournalConsumer):
    """Turns journal records into notices and delivers them through the configured channels."""

    KIND = "notifier"
    LEASE = NOTIFIER

    def started(self) -> int:
        self.webhook = self.settings.notifications.webhook
        n = self.settings.notifications
        self.alimtalk = templates.load(n.alimtalk.templates_path) if n.alimtalk_on else {}
        self.phones: dict[tuple[str, str], str] = {}
        self.model, self.directory = ReadModel(self.db), Directory(self.db)
        self.sent = 0
        # The state after the last event seen of recent orders: a notice needs the order's
        # state, and evolving it here costs less than reading and decoding the view.
        self.states: Recent[str, OrderState] = Recent(REMEMBERED_STATES)
        return self.checkpoint()

    def checkpoint(self) -> int:
        return checkpoints.position(self.db, checkpoints.NOTIFIER)

    def consume(self, records: Sequence[Record]) -> int:
        """Deliver notices of the records in order; stops where the projector is behind."""
        kept, queued, talks, position = [], [], [], self.position
        states: dict[str, OrderState] = {}
        for rec in records:
            state = self._state_after(rec, states)
            if state is None:
                break  # the projector has not got here yet; its next nudge brings us back
            for n in notices_for(rec.event, state):
                kept.append(n)
                if self.webhook:
                    message = alimtalk_message(n, self._phone(n.recipient_kind, n.recipient_id))
                    queued.append((n.id, dumps(message), time.time()))
                template = self.alimtalk.get((n.recipient_kind, n.kind))
                if template is not None:
                    body = alimtalk.request_body(n, self._phone(n.recipient_kind, n.recipient_id),
                                                 template, self.settings.notifications.alimtalk)
                    talks.append((n.id, dumps(body), time.time()))
            position = rec.seq
        if position == self.position:
            return 0
        with self.db.transaction() as conn:
            notices.add(conn, kept)
            # The webhook's messages commit with the notices: sent at least once, later.
            outbox.enqueue(conn, queued)
            outbox.enqueue(conn, talks, outbox.ALIMTALK)
            checkpoints.save(conn, checkpoints.NOTIFIER, position)
        if queued:
            self.send(self.peers.webhook_sender, Nudge(position))
        if talks:
            self.send(self.peers.alimtalk_sender, Nudge(position))
        done = sum(1 for r in records if r.seq <= position)
        self.position = position
        self.states.keep(states)  # only once committed, as the position
        self.sent += len(kept)
        return done

    def _state_after(self, rec: Record, states: dict[str, OrderState]) -> OrderState | None:
        """The order's state once `rec` happened: evolved from the one before it when this
        notifier saw that (no read), else the projected view's, if it got that far."""
        event = rec.event
        before = states.get(event.order_id) or self.states.get(event.order_id)
        if isinstance(event, OrderPlaced) or (before is not None
                                             and before.version == event.version - 1):
            state = order.evolve(before, event)
            states[event.order_id] = state
            return state
        state = self.model.state(event.order_id)
        return state if state is not None and state.version >= event.version else None

    def leases_gained(self, gained: frozenset[str]) -> None:
        if self.LEASE in gained:
            self.states.clear()  # remembered from before another node moved on
        super().leases_gained(gained)

    def _phone(self, kind: str, id: str) -> str:
        if (kind, id) not in self.phones:
            self.phones[(kind, id)] = self.directory.phone(kind, id)
        return self.phones[(kind, id)]

    def describe(self) -> str:
        lease = "" if self.holds() else " (another node holds the lease)"
        return f"position={self.position} sent={self.sent}{lease}"
