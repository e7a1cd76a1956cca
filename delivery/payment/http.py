"""A payment provider reached over HTTP: POST /charges and POST /refunds with the order id as the
Idempotency-Key, so a charge retried after a crash or a timeout is not a second charge.

Request  POST {url}/charges {"order_id", "amount", "card_token"}  |  POST {url}/refunds {"order_id", "amount"}
Answer   2xx {"id": "...", "approved": true|false, "reason": "..."}; anything else is a failure.
"""

from __future__ import annotations

import json

from ..jsontext import dumps
from ..outbound import Unreachable, post_json
from .provider import Outcome, ProviderError


class HttpProvider:
    """Calls the provider with the call timeout on every socket operation."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url, self.timeout_s = url.rstrip("/"), timeout_s

    def charge(self, order_id: str, amount: int, card_token: str, at: str) -> Outcome:
        return self._post("/charges", order_id, {"order_id": order_id, "amount": amount,
                                                 "card_token": card_token})

    def refund(self, order_id: str, amount: int, at: str, payment_id: str = "",
               reason: str = "") -> Outcome:
        return self._post("/refunds", f"refund:{order_id}", {"order_id": order_id, "amount": amount})

    def charges_since(self, position: int, limit: int) -> None:
        return None  # the http contract has no listing of charges: no reconciliation

    def _post(self, path: str, key: str, body: dict) -> Outcome:
        try:
            status, payload = post_json(self.url + path, dumps(body), {"Idempotency-Key": key},
                                        self.timeout_s)
        except Unreachable as exc:
            raise ProviderError(f"provider unreachable or too slow: {exc}") from exc
        if not 200 <= status < 300:
            raise ProviderError(f"provider answered {status}")
        try:
            data = json.loads(payload)
            return Outcome(bool(data["approved"]), str(data.get("id") or ""),
                           str(data.get("reason") or ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"provider answered something unreadable: {exc}") from exc
