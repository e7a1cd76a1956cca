"""Courier: delivers the webhook channel's outbox, retrying with backoff until each message is
taken; it runs beside the order flow and never holds it up."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from .. import clock
from ..notify.webhook import WebhookError, post
from ..store.db import Database
from . import offload
from .base import ServiceActor
from .messages import DeliveryResult, GetStats, Nudge, Start

BATCH = 50
TIMEOUT_S = 5.0
MIN_RETRY_S, MAX_RETRY_S = 0.5, 30.0
IDLE_TICK_S = 1.0


def retry_delay(attempts: int, rng: random.Random) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped, with jitter."""
    return min(MAX_RETRY_S, MIN_RETRY_S * 2 ** max(0, attempts - 1)) * (1 + 0.2 * rng.random())


class Courier(ServiceActor):
    """Sends due webhook deliveries; each is marked delivered only once the receiver took it."""

    KIND = "courier"

    def on_start(self, message: Start, sender: Any) -> None:
        self.parent = str(sender)
        settings = message.settings
        self.url = settings["notifications"]["webhook_url"]
        self.enabled = "webhook" in settings["notifications"]["channels"]
        self.db = Database.shared(settings["actors"]["db_path"])
        self.runtime_id = settings["actors"]["runtime_id"]
        self.in_flight: set[str] = set()
        self.ticking = False
        self.sent = self.failures = 0
        self.rng = random.Random()
        if self.enabled:
            self.send_due()

    def on_nudge(self, message: Nudge, sender: Any) -> None:
        if self.enabled:
            self.send_due()

    def on_wakeup(self, message: Any, sender: Any) -> None:
        self.ticking = False
        self.send_due()

    def send_due(self) -> None:
        rows = self.db.execute(
            "SELECT notice_id, payload, attempts FROM deliveries WHERE channel = 'webhook'"
            " AND delivered_at IS NULL AND next_at <= ? ORDER BY rowid LIMIT ?",
            (time.time(), BATCH + len(self.in_flight))).fetchall()
        for notice_id, payload, attempts in rows:
            if notice_id in self.in_flight:
                continue
            self.in_flight.add(notice_id)
            work = self._sender(notice_id, payload, attempts)
            if offload.available(self.runtime_id):
                offload.run(self.runtime_id, work, self.myAddress, lambda result: result)
            else:
                self.on_result(work(), None)
        self._tick()

    def _sender(self, notice_id: str, payload: str, attempts: int):
        def work() -> DeliveryResult:
            try:
                post(self.url, payload, TIMEOUT_S)
                return DeliveryResult(notice_id, attempts)
            except WebhookError as exc:
                return DeliveryResult(notice_id, attempts, str(exc) or "failed")
        return work

    def on_result(self, result: DeliveryResult, sender: Any) -> None:
        notice_id, attempts, error = result.notice_id, result.attempts, result.error
        self.in_flight.discard(notice_id)
        with self.db.transaction() as conn:
            if not error:
                self.sent += 1
                conn.execute("UPDATE deliveries SET delivered_at = ?, attempts = ? WHERE"
                             " notice_id = ? AND channel = 'webhook'",
                             (clock.now(), attempts + 1, notice_id))
            else:
                self.failures += 1
                conn.execute("UPDATE deliveries SET attempts = ?, next_at = ?, last_error = ?"
                             " WHERE notice_id = ? AND channel = 'webhook'",
                             (attempts + 1, time.time() + retry_delay(attempts + 1, self.rng),
                              error, notice_id))
        if not self.in_flight:
            self.send_due()  # a backlog (the receiver is back) drains batch after batch

    def _tick(self) -> None:
        # One timer at a time: it brings back the retries that fall due.
        if self.ticking:
            return
        pending = self.db.execute("SELECT MIN(next_at) FROM deliveries WHERE channel = 'webhook'"
                                  " AND delivered_at IS NULL").fetchone()[0]
        if pending is not None:
            self.ticking = True
            wait = min(IDLE_TICK_S, max(0.02, pending - time.time()))
            self.wakeupAfter(timedelta(seconds=wait))

    def describe(self) -> str:
        state = "on" if getattr(self, "enabled", False) else "off"
        return f"webhook {state} sent={self.sent} failures={self.failures} in_flight={len(self.in_flight)}"

    HANDLERS = {Start: "on_start", Nudge: "on_nudge", DeliveryResult: "on_result",
                GetStats: "on_get_stats"}
