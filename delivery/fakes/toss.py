"""A local Toss Payments: the documented subset of the core API v1, for the tests and for demos
(`python run.py fake-provider toss --port P`). See ../shared/providers/toss-payments.md.

What it does like Toss:
- HTTP Basic auth with the secret key as user name and an empty password; the colon is required
  (403 INCORRECT_BASIC_AUTH_FORMAT), base64 with or without `=` padding is accepted (public
  clients differ), an unknown key is 401 UNAUTHORIZED_KEY;
- `POST /v1/payments/confirm`, `POST /v1/payments/{paymentKey}/cancel`,
  `GET /v1/payments/{paymentKey}`, `GET /v1/payments/orders/{orderId}`, answering `Payment`
  objects or `{code, message}` errors (Korean, English with `Accept-Language: en-US`);
- `Idempotency-Key` on POSTs: identity = (key, secret key, method, path), the body is not part of
  it; a repeat within 15 days replays the first answer; a repeat while the first is still being
  processed is 409 IDEMPOTENT_REQUEST_PROCESSING; a key over 300 characters is 400
  INVALID_IDEMPOTENCY_KEY. Our choice where the docs are silent: a 5xx answer (the request was
  not carried out) is not kept for replay, so the same key can be retried after an outage;
- `TossPayments-Test-Code: <CODE>` with a `test_` key answers that error (an unknown code is 400
  INVALID_TEST_CODE); with a `live_` key it is ignored;
- the paymentKey `tok_declined` is a card its issuer rejects (403 REJECT_CARD_COMPANY), so the
  README's curl walk-through works against the fake too.

What it does for tests (`/__fake/...`, not part of Toss): `mode` sets a delay before answering,
failing answers (`fail_status` 500 or 400 PROVIDER_ERROR), and `drop_after_commit` (the next N
confirms are carried out and then the connection is dropped, the answer lost); `cancel` cancels a
payment as if the merchant did it in Toss's dashboard; `state` counts the calls.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

TEST_SECRET_KEY = "test_sk_fake0000000000000000000000"
IDEMPOTENCY_TTL_S = 15 * 24 * 3600
MAX_IDEMPOTENCY_KEY = 300
ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
KST = timezone(timedelta(hours=9))
DECLINED_TOKEN = "tok_declined"

# code -> (HTTP status, Korean message, English message); the subset the fake can answer.
ERRORS: dict[str, tuple[int, str, str]] = {
    "INVALID_REQUEST": (400, "잘못된 요청입니다.", "The request is invalid."),
    "INVALID_ORDER_ID": (400, "주문번호는 6자 이상 64자 이하의 영문 대소문자, 숫자, 특수문자(-, _)만 허용됩니다.",
                         "orderId must be 6-64 characters of letters, digits, - and _."),
    "INVALID_IDEMPOTENCY_KEY": (400, "멱등키는 300자 이하여야 합니다.",
                                "The idempotency key must be at most 300 characters."),
    "IDEMPOTENT_REQUEST_PROCESSING": (409, "이전 멱등 요청이 처리중입니다.",
                                      "The previous idempotent request is being processed."),
    "INVALID_TEST_CODE": (400, "테스트 코드가 올바르지 않습니다.", "The test code is invalid."),
    "ALREADY_PROCESSED_PAYMENT": (400, "이미 처리된 결제 입니다.", "The payment was already processed."),
    "DUPLICATED_ORDER_ID": (400, "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.",
                            "The orderId was already approved or cancelled."),
    "PROVIDER_ERROR": (400, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
                       "A temporary error occurred. Please try again shortly."),
    "REJECT_CARD_COMPANY": (403, "결제 승인이 거절되었습니다.", "The card company rejected the payment."),
    "REJECT_CARD_PAYMENT": (403, "한도초과 혹은 잔액부족으로 결제에 실패했습니다.",
                            "The payment failed: limit exceeded or insufficient balance."),
    "INVALID_CARD_EXPIRATION": (400, "카드 정보를 다시 확인해주세요. (유효기간)",
                                "Check the card's expiry date."),
    "INVALID_STOPPED_CARD": (400, "정지된 카드 입니다.", "The card is suspended."),
    "INVALID_CARD_NUMBER": (400, "카드번호를 다시 확인해주세요.", "Check the card number."),
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": (400, "하루 결제 가능 횟수를 초과했습니다.",
                                       "The daily number of payments is exceeded."),
    "EXCEED_MAX_PAYMENT_AMOUNT": (400, "하루 결제 가능 금액을 초과했습니다.",
                                  "The daily payment amount is exceeded."),
    "BELOW_MINIMUM_AMOUNT": (400, "신용카드는 결제금액이 100원 이상이어야 합니다.",
                             "A card payment must be at least 100 won."),
    "UNAUTHORIZED_KEY": (401, "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
                         "The secret key or client key is not authorised."),
    "INCORRECT_BASIC_AUTH_FORMAT": (403, "잘못된 요청입니다. ':' 를 포함해 인코딩해주세요.",
                                    "Invalid request: encode including ':'."),
    "FORBIDDEN_REQUEST": (403, "허용되지 않은 요청입니다.", "The request is not allowed."),
    "NOT_FOUND_PAYMENT": (404, "존재하지 않는 결제 정보 입니다.", "The payment does not exist."),
    "NOT_FOUND_PAYMENT_SESSION": (404, "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
                                  "The payment session expired."),
    "ALREADY_CANCELED_PAYMENT": (400, "이미 취소된 결제 입니다.", "The payment was already cancelled."),
    "NOT_CANCELABLE_AMOUNT": (403, "취소 할 수 없는 금액 입니다.", "The amount cannot be cancelled."),
    "FAILED_INTERNAL_SYSTEM_PROCESSING": (500, "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요.",
                                          "Internal processing failed. Please try again shortly."),
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": (500, "결제가 완료되지 않았어요. 다시 시도해주세요.",
                                                  "The payment was not completed. Please try again."),
    "UNKNOWN_PAYMENT_ERROR": (500, "결제에 실패했어요. 같은 문제가 반복된다면 은행이나 카드사로 문의해주세요.",
                              "The payment failed."),
}


def kst(at: float) -> str:
    """Toss's time format: ISO 8601 with the +09:00 offset."""
    return datetime.fromtimestamp(at, KST).isoformat(timespec="seconds")


@dataclass
class Mode:
    """Faults of the fake, for the breaker and lost-answer tests."""

    delay_ms: int = 0
    fail_status: int = 0          # 500: FAILED_INTERNAL_SYSTEM_PROCESSING; 400: PROVIDER_ERROR
    drop_after_commit: int = 0    # the next N confirms commit, then the connection is dropped


@dataclass
class Kept:
    """An idempotent request: its answer once there is one."""

    at: float
    status: int | None = None
    body: dict[str, Any] | None = None


@dataclass
class FakeToss:
    """The fake's books; `clock` (seconds) is injected so idempotency expiry can be tested."""

    secret_keys: tuple[str, ...] = (TEST_SECRET_KEY,)
    clock: Callable[[], float] = time.time
    mode: Mode = field(default_factory=Mode)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)   # by paymentKey
    by_order: dict[str, str] = field(default_factory=dict)              # orderId -> paymentKey
    kept: dict[tuple[str, str, str, str], Kept] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)          # (method, path) served
    executed: list[tuple[str, str]] = field(default_factory=list)       # (confirm|cancel, id)
    declined_keys: dict[str, str] = field(default_factory=lambda: {DECLINED_TOKEN: "REJECT_CARD_COMPANY"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/payments/confirm", self.confirm)
        app.router.add_post("/v1/payments/{payment_key}/cancel", self.cancel)
        app.router.add_get("/v1/payments/orders/{order_id}", self.get_by_order)
        app.router.add_get("/v1/payments/{payment_key}", self.get_payment)
        app.router.add_post("/__fake/mode", self.set_mode)
        app.router.add_post("/__fake/cancel/{payment_key}", self.dashboard_cancel)
        app.router.add_get("/__fake/state", self.state)
        return app

    # -- counting ----------------------------------------------------------------------------
    def confirms(self, order_id: str) -> int:
        """Confirms carried out for an order (replays and refusals are not)."""
        return self.executed.count(("confirm", order_id))

    def cancels(self, order_id: str) -> int:
        return self.executed.count(("cancel", order_id))

    # -- common ------------------------------------------------------------------------------
    def _error(self, request: web.Request, code: str, status: int | None = None) -> web.Response:
        default_status, ko, en = ERRORS.get(code, (status or 400, "오류", "error"))
        english = request.headers.get("Accept-Language", "").lower().startswith("en")
        return web.json_response({"code": code, "message": en if english else ko},
                                 status=status or default_status)

    def _auth(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None, self._error(request, "UNAUTHORIZED_KEY")
        token = header[6:].strip()
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, self._error(request, "UNAUTHORIZED_KEY")
        if ":" not in decoded:
            return None, self._error(request, "INCORRECT_BASIC_AUTH_FORMAT")
        key, _, password = decoded.partition(":")
        if key not in self.secret_keys or password:
            return None, self._error(request, "UNAUTHORIZED_KEY")
        return key, None

    async def _body(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _guarded(self, request: web.Request, action) -> web.StreamResponse:
        """Auth, test code, idempotency and the fault modes around a POST."""
        self.calls.append((request.method, request.path))
        key, refused = self._auth(request)
        if refused:
            return refused
        if self.mode.delay_ms:
            await asyncio.sleep(self.mode.delay_ms / 1000)
        idem = request.headers.get("Idempotency-Key")
        if idem is not None and len(idem) > MAX_IDEMPOTENCY_KEY:
            return self._error(request, "INVALID_IDEMPOTENCY_KEY")
        identity = (idem or "", key or "", request.method, request.path)
        if idem:
            kept = self.kept.get(identity)
            if kept and self.clock() - kept.at < IDEMPOTENCY_TTL_S:
                if kept.status is None:
                    return self._error(request, "IDEMPOTENT_REQUEST_PROCESSING")
                return web.json_response(kept.body, status=kept.status,
                                         headers={"X-Fake-Replayed": "true"})
            self.kept[identity] = Kept(self.clock())
        try:
            status, body = await self._answer(request, key or "", action)
        except BaseException:
            self.kept.pop(identity, None)
            raise
        if idem:
            if status >= 500:
                self.kept.pop(identity, None)  # not carried out: the key may be used again
            else:
                self.kept[identity] = Kept(self.kept[identity].at, status, body)
        if body.pop("__drop__", False):
            request.transport.abort()  # carried out, answer lost
            raise ConnectionResetError("fake: the answer is dropped after the commit")
        return web.json_response(body, status=status)

    async def _answer(self, request: web.Request, key: str, action):
        test_code = request.headers.get("TossPayments-Test-Code")
        if test_code and key.startswith("test_"):
            if test_code not in ERRORS:
                return 400, self._error_body(request, "INVALID_TEST_CODE")
            return ERRORS[test_code][0], self._error_body(request, test_code)
        if self.mode.fail_status:
            code = "PROVIDER_ERROR" if self.mode.fail_status < 500 else \
                "FAILED_INTERNAL_SYSTEM_PROCESSING"
            return self.mode.fail_status, self._error_body(request, code)
        body = await self._body(request)
        if body is None:
            return 400, self._error_body(request, "INVALID_REQUEST")
        return action(request, body)

    def _error_body(self, request: web.Request, code: str) -> dict[str, Any]:
        _, ko, en = ERRORS[code]
        english = request.headers.get("Accept-Language", "").lower().startswith("en")
        return {"code": code, "message": en if english else ko}

    # -- the API -----------------------------------------------------------------------------
    async def confirm(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._confirm)

    def _confirm(self, request: web.Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payment_key, order_id, amount = body.get("paymentKey"), body.get("orderId"), body.get("amount")
        if not isinstance(payment_key, str) or not 0 < len(payment_key) <= 200:
            return 400, self._error_body(request, "INVALID_REQUEST")
        if not isinstance(order_id, str) or not ORDER_ID.match(order_id):
            return 400, self._error_body(request, "INVALID_ORDER_ID")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            return 400, self._error_body(request, "INVALID_REQUEST")
        if payment_key in self.declined_keys:
            code = self.declined_keys[payment_key]
            return ERRORS[code][0], self._error_body(request, code)
        if amount < 100:
            return 400, self._error_body(request, "BELOW_MINIMUM_AMOUNT")
        known = self.payments.get(payment_key)
        if known is not None:
            return 400, self._error_body(request, "ALREADY_PROCESSED_PAYMENT")
        if order_id in self.by_order:
            return 400, self._error_body(request, "DUPLICATED_ORDER_ID")
        now = self.clock()
        payment = {
            "version": "2022-11-16", "paymentKey": payment_key, "type": "NORMAL",
            "orderId": order_id, "orderName": f"주문 {order_id}", "mId": "tosspayments",
            "currency": "KRW", "method": "카드", "totalAmount": int(amount),
            "balanceAmount": int(amount), "suppliedAmount": round(amount / 1.1),
            "vat": int(amount) - round(amount / 1.1), "taxFreeAmount": 0, "taxExemptionAmount": 0,
            "status": "DONE", "requestedAt": kst(now), "approvedAt": kst(now),
            "useEscrow": False, "cultureExpense": False, "isPartialCancelable": True,
            "lastTransactionKey": uuid.uuid4().hex[:30].upper(), "cancels": None,
            "card": {"amount": int(amount), "issuerCode": "61", "acquirerCode": "31",
                     "number": "12345678****000*", "installmentPlanMonths": 0,
                     "approveNo": f"{int(now) % 100000000:08d}", "useCardPoint": False,
                     "cardType": "신용", "ownerType": "개인", "acquireStatus": "READY",
                     "isInterestFree": False, "interestPayer": None},
            "easyPay": None, "secret": None, "country": "KR", "failure": None,
            "receipt": {"url": f"https://dashboard.tosspayments.com/receipt/{payment_key}"},
            "checkout": {"url": f"https://api.tosspayments.com/v1/payments/{payment_key}/checkout"},
            "metadata": None,
        }
        self.payments[payment_key] = payment
        self.by_order[order_id] = payment_key
        self.executed.append(("confirm", order_id))
        answer = dict(payment)
        if self.mode.drop_after_commit:
            self.mode.drop_after_commit -= 1
            answer["__drop__"] = True
        return 200, answer

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._cancel)

    def _cancel(self, request: web.Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payment = self.payments.get(request.match_info["payment_key"])
        if payment is None:
            return 404, self._error_body(request, "NOT_FOUND_PAYMENT")
        reason = body.get("cancelReason")
        if not isinstance(reason, str) or not 0 < len(reason) <= 200:
            return 400, self._error_body(request, "INVALID_REQUEST")
        amount = body.get("cancelAmount", payment["balanceAmount"])
        if payment["status"] == "CANCELED" or payment["balanceAmount"] <= 0:
            return 400, self._error_body(request, "ALREADY_CANCELED_PAYMENT")
        if isinstance(amount, bool) or not isinstance(amount, int) or \
                not 0 < amount <= payment["balanceAmount"]:
            return 403, self._error_body(request, "NOT_CANCELABLE_AMOUNT")
        self._apply_cancel(payment, amount, reason)
        return 200, dict(payment)

    def _apply_cancel(self, payment: dict[str, Any], amount: int, reason: str) -> None:
        transaction = uuid.uuid4().hex[:30].upper()
        payment["cancels"] = [*(payment["cancels"] or []), {
            "cancelAmount": amount, "cancelReason": reason, "taxFreeAmount": 0,
            "taxExemptionAmount": 0, "refundableAmount": 0, "easyPayDiscountAmount": 0,
            "canceledAt": kst(self.clock()), "transactionKey": transaction, "receiptKey": None,
            "cancelStatus": "DONE", "cancelRequestId": None}]
        payment["balanceAmount"] -= amount
        payment["status"] = "CANCELED" if payment["balanceAmount"] == 0 else "PARTIAL_CANCELED"
        payment["lastTransactionKey"] = transaction
        self.executed.append(("cancel", payment["orderId"]))

    async def get_payment(self, request: web.Request) -> web.Response:
        return self._get(request, self.payments.get(request.match_info["payment_key"]))

    async def get_by_order(self, request: web.Request) -> web.Response:
        key = self.by_order.get(request.match_info["order_id"])
        return self._get(request, self.payments.get(key) if key else None)

    def _get(self, request: web.Request, payment: dict[str, Any] | None) -> web.Response:
        self.calls.append((request.method, request.path))
        _, refused = self._auth(request)
        if refused:
            return refused
        if self.mode.fail_status >= 500:
            return self._error(request, "FAILED_INTERNAL_SYSTEM_PROCESSING")
        if payment is None:
            return self._error(request, "NOT_FOUND_PAYMENT")
        return web.json_response(payment)

    # -- the test's controls -----------------------------------------------------------------
    async def set_mode(self, request: web.Request) -> web.Response:
        body = await self._body(request) or {}
        for name in ("delay_ms", "fail_status", "drop_after_commit"):
            if name in body:
                setattr(self.mode, name, int(body[name]))
        return web.json_response(self.mode.__dict__)

    async def dashboard_cancel(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["payment_key"])
        if payment is None:
            return self._error(request, "NOT_FOUND_PAYMENT")
        body = await self._body(request) or {}
        self.dashboard_cancel_now(payment["paymentKey"], body.get("cancelReason") or "관리자 취소")
        return web.json_response(payment)

    def dashboard_cancel_now(self, payment_key: str, reason: str) -> dict[str, Any]:
        """Cancel the whole payment as the merchant would in Toss's dashboard; returns the
        PAYMENT_STATUS_CHANGED webhook body Toss would send."""
        payment = self.payments[payment_key]
        self._apply_cancel(payment, payment["balanceAmount"], reason)
        created = datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)
        return {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": created.isoformat(),
                "data": dict(payment)}

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response({"payments": len(self.payments), "calls": len(self.calls),
                                  "executed": self.executed, "mode": self.mode.__dict__})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py fake-provider toss",
                                     description="A local Toss Payments core API v1.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--secret-key", action="append", default=None,
                        help=f"accepted secret key (repeatable); default {TEST_SECRET_KEY}")
    args = parser.parse_args(argv)
    fake = FakeToss(secret_keys=tuple(args.secret_key or (TEST_SECRET_KEY,)))
    print(f"fake Toss Payments on http://{args.host}:{args.port} (secret key "
          f"{'as given' if args.secret_key else TEST_SECRET_KEY})", flush=True)
    web.run_app(fake.app(), host=args.host, port=args.port, print=None)
    return 0
