"""Toss Payments (토스페이먼츠) core API v1 as a payment provider (`payment.provider = "toss"`).

Toss is a two-step gateway: the browser SDK authenticates the buyer and hands the client a
`paymentKey`; the client sends it to us as the payment's `card_token`, and the charge is our
server's `POST /v1/payments/confirm {paymentKey, orderId, amount}` (the order's id and total),
with `Idempotency-Key` = the order id and a digest of the paymentKey (`confirm_key`). A refund is `POST /v1/payments/{paymentKey}/cancel
{cancelReason}` with `Idempotency-Key` = `cancel-<order id>`. Authentication is HTTP Basic with
the secret key as user name and an empty password (`base64("<key>:")`).

How answers map (see ../shared/providers/toss-payments.md, §8):
- a `Payment` with status `DONE` -> approved (its `paymentKey`, `approvedAt`, `method` are kept);
- card and buyer errors (`REJECT_*`, `INVALID_CARD*`, `EXCEED_MAX_*`, ...) -> declined, with
  Toss's message passed on (Korean, or English with `accept_language = "en-US"`);
- `IDEMPOTENT_REQUEST_PROCESSING` (409) -> retry later (not the provider's failure);
- `ALREADY_PROCESSED_PAYMENT`, a timeout, a dropped connection -> the outcome is unknown: the
  payment is looked up with `GET /v1/payments/orders/{orderId}` before answering, so a lost
  answer never charges twice nor leaves a paid order unpaid;
- anything else (`PROVIDER_ERROR`, `FAILED_*`, 5xx, our own bad configuration) -> a provider
  failure, which counts for the circuit breaker.
The secret key is never logged nor put in an error: errors name the code and Toss's message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any
from urllib.parse import quote

from ..config import TossSettings
from ..jsontext import dumps
from ..outbound import TimedOut, Unreachable, call_json
from ..secrets import Secret
from .provider import Outcome, ProviderError, RetryLater

log = logging.getLogger("delivery.payment.toss")

# Card and buyer errors of the confirm table: the customer can pay again with another card.
DECLINE_CODES = frozenset({
    "REJECT_ACCOUNT_PAYMENT", "REJECT_CARD_PAYMENT", "REJECT_CARD_COMPANY",
    "REJECT_TOSSPAY_INVALID_ACCOUNT", "INVALID_CARD", "INVALID_CARD_EXPIRATION",
    "INVALID_STOPPED_CARD", "INVALID_REJECT_CARD", "INVALID_CARD_NUMBER",
    "INVALID_CARD_LOST_OR_STOLEN", "INVALID_CARD_INSTALLMENT_PLAN", "INVALID_PASSWORD",
    "INVALID_AUTHORIZE_AUTH", "INVALID_ACCOUNT_INFO_RE_REGISTER", "EXCEED_MAX_CARD_INSTALLMENT_PLAN",
    "EXCEED_MAX_DAILY_PAYMENT_COUNT", "EXCEED_MAX_PAYMENT_AMOUNT", "EXCEED_MAX_AUTH_COUNT",
    "EXCEED_MAX_ONE_DAY_AMOUNT", "EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT",
    "EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT", "EXCEED_MAX_AMOUNT", "NOT_ALLOWED_POINT_USE",
    "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT", "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN",
    "BELOW_MINIMUM_AMOUNT", "RESTRICTED_TRANSFER_ACCOUNT", "NOT_AVAILABLE_BANK",
    "NOT_AVAILABLE_PAYMENT", "CARD_PROCESSING_ERROR", "FDS_ERROR",
    # The buyer's authentication is gone (confirm window passed) or the key is not a payment
    # of ours: the customer has to go through the SDK again.
    "NOT_FOUND_PAYMENT_SESSION", "NOT_FOUND_PAYMENT",
})
DECLINE_PREFIXES = ("REJECT_", "INVALID_CARD", "EXCEED_MAX_")
# The order or the payment key was confirmed before: Toss's record of the order decides.
UNKNOWN_OUTCOME = frozenset({"ALREADY_PROCESSED_PAYMENT", "DUPLICATED_ORDER_ID"})
PROCESSING = "IDEMPOTENT_REQUEST_PROCESSING"
ALREADY_CANCELED = frozenset({"ALREADY_CANCELED_PAYMENT", "ALREADY_REFUND_PAYMENT"})
APPROVED, CANCELED, PARTIAL_CANCELED = "DONE", "CANCELED", "PARTIAL_CANCELED"
MAX_TEXT = 300  # of a provider message passed on to a customer


def is_decline(code: str) -> bool:
    """Whether a Toss error code is the card's or the buyer's (not the provider's) problem."""
    return code in DECLINE_CODES or code.startswith(DECLINE_PREFIXES)


def confirm_key(order_id: str, payment_key: str) -> str:
    """The Idempotency-Key of a confirm: the order id, and a digest of the paymentKey.

    Toss replays the first answer to a key for 15 days whatever the body (fact sheet §7): with
    the bare order id as key, a card declined once would be declined again for every other card
    the customer tries. A retry of the same attempt (same paymentKey) still replays Toss's first
    answer; a second card is a new request, and Toss itself refuses a second approval of the
    same orderId (DUPLICATED_ORDER_ID, settled by looking the order's payment up), so an order
    is never charged twice."""
    return f"{order_id}-{hashlib.sha256(payment_key.encode()).hexdigest()[:16]}"


def basic_auth(secret_key: str) -> str:
    """The Authorization header of a secret key: Basic base64("<key>:")."""
    return "Basic " + base64.b64encode(f"{secret_key}:".encode()).decode()


class TossError(Exception):
    """Toss answered an error object {code, message} with a 4xx/5xx status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Toss {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class TossProvider:
    """Calls Toss with the call timeout on every socket operation; safe to call from threads."""

    def __init__(self, settings: TossSettings, timeout_s: float, secret_key: Secret) -> None:
        self.base = settings.base_url.rstrip("/")
        self.language = settings.accept_language
        self.timeout_s = timeout_s
        self._auth = basic_auth(secret_key.reveal())

    # -- the provider interface ----------------------------------------------------------------
    def charge(self, order_id: str, amount: int, card_token: str, at: str) -> Outcome:
        body = {"paymentKey": card_token, "orderId": order_id, "amount": amount}
        try:
            payment = self._call("POST", "/v1/payments/confirm", body,
                                 idempotency_key=confirm_key(order_id, card_token))
        except TossError as exc:
            if exc.code == PROCESSING:
                raise RetryLater(f"Toss is still processing this payment ({exc.code})") from None
            if exc.code in UNKNOWN_OUTCOME:
                return self._settle_charge(order_id, amount, exc)
            if is_decline(exc.code):
                return Outcome(False, "", _clip(f"{exc.message} ({exc.code})"))
            raise ProviderError(f"Toss failed: {exc.status} {exc.code}") from None
        except Unreachable as exc:
            # The confirm may have been taken and acted on: ask Toss before answering.
            return self._settle_charge(order_id, amount, exc)
        return self._approved(payment, order_id, amount)

    def refund(self, order_id: str, amount: int, at: str, payment_id: str = "",
               reason: str = "") -> Outcome:
        key = payment_id or self._payment_key_of(order_id)
        body = {"cancelReason": _clip(reason or "주문 취소 / order cancelled", 200)}
        try:
            payment = self._call("POST", f"/v1/payments/{quote(key, safe='')}/cancel", body,
                                 idempotency_key=f"cancel-{order_id}")
        except TossError as exc:
            if exc.code == PROCESSING:
                raise RetryLater(f"Toss is still processing this refund ({exc.code})") from None
            if exc.code in ALREADY_CANCELED:
                payment = self.payment(key)  # cancelled already (by us or at Toss): its record
                if payment is None:
                    raise ProviderError(f"Toss says {exc.code} but has no payment") from None
            else:
                raise ProviderError(f"Toss refused the refund: {exc.status} {exc.code}") from None
        except Unreachable as exc:
            payment = self._lookup_after(exc, lambda: self.payment(key))
        status = payment.get("status")
        if status != CANCELED:
            raise ProviderError(f"Toss refund not done (payment status {status})")
        return Outcome(True, cancel_reference(payment), approved_at=cancelled_at(payment))

    def charges_since(self, position: int, limit: int) -> None:
        return None  # Toss has no listing of charges: lost answers are settled by lookup

    # -- lookups ---------------------------------------------------------------------------------
    def payment(self, payment_key: str) -> dict[str, Any] | None:
        """GET /v1/payments/{paymentKey}; None when Toss has no such payment."""
        return self._get(f"/v1/payments/{quote(payment_key, safe='')}")

    def payment_of_order(self, order_id: str) -> dict[str, Any] | None:
        """GET /v1/payments/orders/{orderId}; None when the order was never paid at Toss."""
        return self._get(f"/v1/payments/orders/{quote(order_id, safe='')}")

    def _get(self, path: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", path)
        except TossError as exc:
            if exc.status == 404 and exc.code in ("NOT_FOUND_PAYMENT", "NOT_FOUND"):
                return None
            raise ProviderError(f"Toss lookup failed: {exc.status} {exc.code}") from None
        except Unreachable as exc:
            raise ProviderError(f"Toss unreachable: {_why(exc)}") from None

    def _payment_key_of(self, order_id: str) -> str:
        payment = self.payment_of_order(order_id)
        if payment is None or not payment.get("paymentKey"):
            raise ProviderError(f"Toss has no payment of order {order_id}")
        return str(payment["paymentKey"])

    # -- settling an unknown outcome -----------------------------------------------------------
    def _settle_charge(self, order_id: str, amount: int, why: Exception) -> Outcome:
        """The confirm's outcome is unknown: Toss's record of the order decides."""
        payment = self._lookup_after(why, lambda: self.payment_of_order(order_id))
        if payment is not None and payment.get("status") in (APPROVED, CANCELED, PARTIAL_CANCELED):
            log.info("payment of order %s settled by lookup after %s", order_id, _why(why))
            return self._approved(payment, order_id, amount)
        if isinstance(why, TossError):  # ALREADY_PROCESSED but no approved payment: a failure
            raise ProviderError(f"Toss said {why.code} but shows no approved payment")
        raise ProviderError(f"Toss did not answer ({_why(why)}) and shows no payment yet")

    def _lookup_after(self, why: Exception, lookup) -> dict[str, Any] | None:
        try:
            return lookup()
        except ProviderError as exc:
            raise ProviderError(f"Toss did not answer ({_why(why)}); lookup failed too: {exc}") \
                from None

    def _approved(self, payment: dict[str, Any], order_id: str, amount: int) -> Outcome:
        if payment.get("orderId") != order_id:
            raise ProviderError("Toss answered a payment of another order")
        total = payment.get("totalAmount")
        if total != amount:
            # Never record a charge of another amount as this order's payment.
            raise ProviderError(f"Toss charged {total} for an order of {amount}")
        if payment.get("status") != APPROVED and payment.get("status") not in (CANCELED,
                                                                             PARTIAL_CANCELED):
            raise ProviderError(f"Toss payment status {payment.get('status')}")
        return Outcome(True, str(payment.get("paymentKey") or ""),
                       approved_at=str(payment.get("approvedAt") or ""),
                       provider_method=str(payment.get("method") or ""))

    # -- the wire ------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        if self.language != "ko":
            headers["Accept-Language"] = self.language
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        status, raw = call_json(method, self.base + path, dumps(body) if body is not None else None,
                                headers, self.timeout_s)
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if 200 <= status < 300:
            if not data:
                raise Unreachable(f"Toss answered {status} with no Payment")
            return data
        raise TossError(status, str(data.get("code") or f"HTTP_{status}"),
                        _clip(str(data.get("message") or "")))


def cancel_reference(payment: dict[str, Any]) -> str:
    """The transaction key of the payment's last cancel (our refund id)."""
    cancels = payment.get("cancels") or []
    last = cancels[-1] if cancels else {}
    return str(last.get("transactionKey") or payment.get("lastTransactionKey") or
               payment.get("paymentKey") or "")


def cancelled_amount(payment: dict[str, Any]) -> int:
    """Won given back so far by the payment's cancels."""
    return sum(int(c.get("cancelAmount") or 0) for c in payment.get("cancels") or [])


def cancelled_at(payment: dict[str, Any]) -> str:
    cancels = payment.get("cancels") or []
    return str(cancels[-1].get("canceledAt") or "") if cancels else ""


def _why(exc: Exception) -> str:
    return "timed out" if isinstance(exc, TimedOut) else str(exc)[:200]


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
