"""WebhookSender: sends the webhook channel's outbox, retrying with backoff until each message is
taken; it runs beside the order flow and never holds it up."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from .. import clock
from ..notify.webhook import WebhookError, post
from ..persistence.db import Database
from ..persistence.outbox import DELIVERED, FAILED, WEBHOOK, OutboxEntry, WebhookOutbox
from . import offload
from .base import ServiceActor, handles
from .messages import Nudge, SendDue, Start, WebhookResult

BATCH = 50
TIMEOUT_S = 5.0
MIN_RETRY_S, MAX_RETRY_S = 0.5, 30.0
IDLE_TICK_S = 1.0


def retry_delay(attempts: int, rng: random.Random) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped, with jitter."""
    return min(MAX_RETRY_S, MIN_RETRY_S * 2 ** max(0, attempts - 1)) * (1 + 0.2 * rng.random())


class WebhookSender(ServiceActor):
    """Sends due outbox entries; each is marked sent only once the receiver took it."""

    KIND = "webhook_sender"
    CHANNEL = WEBHOOK
    enabled = False

    @handles(Start)
    def on_start(self, message: Start, sender: Any) -> None:
        self.parent, self.settings, self.facts = str(sender), message.settings, message.facts
        self.url = self.settings.notifications.webhook_url
        self.enabled = self.CHANNEL in self.settings.notifications.channels
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

    def send_due(self) -> None:
        for entry in self.outbox.due(time.time(), BATCH + len(self.in_flight)):
            if entry.notice_id in self.in_flight:
                continue
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
        if self.ticking:
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
