"""WebhookSender: sends the webhook channel's outbox, retrying with backoff until each message is
taken; it runs beside the order flow and never holds it up."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from .. import clock
from ..cluster.leases import WEBHOOKS
from ..notify.webhook import WebhookError, post
from ..persistence.db import Database
from ..persistence.outbox import DELIVERED, FAILED, WEBHOOK, OutboxEntry, WebhookOutbox
from . import offload
from .base import ServiceActor, handles
from .leased import LeaseHolder
from .messages import Nudge, SendDue, Start, WebhookResult

BATCH = 50
TIMEOUT_S = 5.0
MIN_RETRY_S, MAX_RETRY_S = 0.5, 30.0
IDLE_TICK_S = 1.0
CLAIM_S = 3 * TIMEOUT_S  # an entry being sent is not due for anyone else for this long


def retry_delay(attempts: int, rng: random.Random) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped, with jitter."""
    return min(MAX_RETRY_S, MIN_RETRY_S * 2 ** max(0, attempts - 1)) * (1 + 0.2 * rng.random())


class WebhookSender(LeaseHolder, ServiceActor):
    """Sends due outbox entries; each is marked sent only once the receiver took it."""

    KIND = "webhook_sender"
    CHANNEL = WEBHOOK
    LEASE = WEBHOOKS  # every outbound channel's sender (webhook, AlimTalk) runs where this is held
    enabled = False

    @handles(Start)
    def on_start(self, message: Start, sender: Any) -> None:
        self.parent, self.settings, self.facts = str(sender), message.settings, message.facts
        self.url = self.settings.notifications.webhook_url
        self.enabled = self.CHANNEL in self.settings.notifications.channels
        self.init_leases(self.settings, self.facts)
        self.outbox = WebhookOutbox(Database.shared(self.facts.db_path), self.CHANNEL)
        self.runtime_id = self.facts.runtime_id
        self.configure()
        self.in_flight: set[str] = set()
        self.ticking = False
        self.sent = self.failures = 0
        self.rng = random.Random()
        if self.enabled:
            self.send_due()

    def configure(self) -> None:
        """A channel's own preparations (the AlimTalk client)."""

    @handles(Nudge)
    def on_nudge(self, message: Nudge, sender: Any) -> None:
        if self.enabled:
            self.send_due()

    @handles(SendDue)
    def on_send_due(self, message: SendDue, sender: Any) -> None:
        self.ticking = False
        self.send_due()

    def leases_gained(self, gained: frozenset[str]) -> None:
        if self.enabled and self.LEASE in gained:
            self.send_due()

    def send_due(self) -> None:
        if not self.holds():
            return  # another node sends; its entries are claimed in the outbox, not here
        now = time.time()
        due = [e for e in self.outbox.due(now, BATCH + len(self.in_flight))
               if e.notice_id not in self.in_flight]
        # Checked again in the outbox, under the write lock, just before sending.
        for entry in self.outbox.claim(due, now, now + CLAIM_S) if due else ():
            self.in_flight.add(entry.notice_id)
            offload.run_or_inline(self, self.runtime_id, self._sender(entry), self.on_result)
        self._tick()

    def _sender(self, entry: OutboxEntry):
        def work() -> WebhookResult:
            try:
                post(self.url, entry.payload, TIMEOUT_S)
                return WebhookResult(entry.notice_id, entry.attempts)
            except WebhookError as exc:
                return WebhookResult(entry.notice_id, entry.attempts, str(exc) or "failed")
        return work

    @handles(WebhookResult)
    def on_result(self, result: WebhookResult, sender: Any) -> None:
        self.in_flight.discard(result.notice_id)
        attempts = result.attempts + 1
        if not result.error:
            self.sent += 1
            self.outbox.sent(result.notice_id, attempts, clock.now(), result.outcome or DELIVERED,
                             result.reference or None, result.error or None)
        elif result.outcome == FAILED:  # refused for good: retrying would not change it
            self.failures += 1
            self.outbox.sent(result.notice_id, attempts, clock.now(), FAILED, None, result.error)
        else:
            self.failures += 1
            self.outbox.failed(result.notice_id, attempts,
                               time.time() + retry_delay(attempts, self.rng), result.error)
        if not self.in_flight:
            self.send_due()  # a backlog (the receiver is back) drains batch after batch

    def _tick(self) -> None:
        # One timer at a time: it brings back the retries that fall due.
        if self.ticking or not self.holds():
            return
        due_at = self.outbox.next_due_at()
        if due_at is not None:
            self.ticking = True
            wait = min(IDLE_TICK_S, max(0.02, due_at - time.time()))
            self.wakeupAfter(timedelta(seconds=wait), payload=SendDue())

    def describe(self) -> str:
        state = "on" if self.enabled else "off"
        sent = getattr(self, "sent", 0)
        failures = getattr(self, "failures", 0)
        in_flight = len(getattr(self, "in_flight", ()))
        return f"{self.CHANNEL} {state} sent={sent} failures={failures} in_flight={in_flight}"
