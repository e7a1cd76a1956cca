"""AlimtalkSender: sends the AlimTalk channel's outbox through NHN Cloud and follows each
accepted message to its delivery result. It is the webhook sender's loop (due entries, retries
with backoff, beside the order flow) with NHN's answers: accepted, retry, or refused for good;
then, every `notifications.alimtalk.poll_interval_s`, the results of accepted messages."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ..notify import alimtalk
from ..persistence.outbox import ALIMTALK, DELIVERED, FAILED, OutboxEntry
from ..secrets import ALIMTALK_SECRET_KEY, secret
from . import offload
from .base import handles
from .messages import PollResults, ResultsPolled, WebhookResult
from .webhook_sender import TIMEOUT_S, WebhookSender, retry_delay

POLL_BATCH = 50


class AlimtalkSender(WebhookSender):
    """Sends AlimTalk messages and polls their delivery results."""

    KIND = "alimtalk_sender"
    CHANNEL = ALIMTALK

    def configure(self) -> None:
        a = self.settings.notifications.alimtalk
        self.client = alimtalk.AlimtalkClient(a, secret(ALIMTALK_SECRET_KEY), TIMEOUT_S)
        self.poll_interval_s, self.give_up_after_s = a.poll_interval_s, a.give_up_after_h * 3600
        self.polling = self.poll_due = False
        self.delivered = self.undelivered = 0
        if self.enabled:
            self._schedule_poll()

    def _sender(self, entry: OutboxEntry):
        client = self.client

        def work() -> WebhookResult:
            answer = client.send(entry.payload, entry.notice_id, entry.generation)
            if answer.outcome == alimtalk.ACCEPTED:
                return WebhookResult(entry.notice_id, entry.attempts, "", alimtalk.ACCEPTED,
                                     answer.reference)
            return WebhookResult(entry.notice_id, entry.attempts, answer.detail or "failed",
                                 FAILED if answer.outcome == alimtalk.FAILED else "")
        return work

    # -- delivery results ----------------------------------------------------------------------
    def _schedule_poll(self) -> None:
        if not self.poll_due:
            self.poll_due = True
            self.wakeupAfter(timedelta(seconds=self.poll_interval_s), payload=PollResults())

    @handles(PollResults)
    def on_poll(self, message: PollResults, sender: Any) -> None:
        self.poll_due = False
        if not self.polling:
            waiting = self.outbox.awaiting_result(POLL_BATCH)
            if waiting:
                self.polling = True
                client = self.client
                offload.run_or_inline(self, self.runtime_id, lambda: _poll(client, waiting),
                                      self.on_polled)
        self._schedule_poll()

    @handles(ResultsPolled)
    def on_polled(self, message: ResultsPolled, sender: Any) -> None:
        self.polling = False
        now = time.time()
        for notice_id, outcome, detail, accepted_at in message.results:
            if outcome in (DELIVERED, FAILED):
                self.outbox.settled(notice_id, outcome, detail)
                self.delivered += outcome == DELIVERED
                self.undelivered += outcome == FAILED
            elif outcome == alimtalk.RETRY:
                self.outbox.send_again(notice_id, now + retry_delay(1, self.rng), detail)
            elif _age_s(accepted_at) > self.give_up_after_s:
                self.outbox.settled(notice_id, FAILED, f"no result after {self.give_up_after_s / 3600:g} h")
                self.undelivered += 1
        if any(r[1] == alimtalk.RETRY for r in message.results):
            self.send_due()

    def describe(self) -> str:
        return (super().describe() + f" delivered={getattr(self, 'delivered', 0)}"
                f" undelivered={getattr(self, 'undelivered', 0)}")


def _poll(client: alimtalk.AlimtalkClient, waiting: list[OutboxEntry]) -> ResultsPolled:
    results = []
    for entry in waiting:
        answer = client.result(entry.provider_ref or "")
        results.append((entry.notice_id, answer.outcome, answer.detail, entry.at or ""))
    return ResultsPolled(tuple(results))


def _age_s(at: str) -> float:
    try:
        then = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - then).total_seconds()
