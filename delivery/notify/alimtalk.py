"""The AlimTalk channel: Kakao AlimTalk through NHN Cloud's KakaoTalk Bizmessage API v2.3.

A notice whose kind has a template (config/alimtalk-templates.toml) becomes one request body,
built by the notifier and kept in the outbox with the notice (`request_body`):
`POST /alimtalk/v2.3/appkeys/{appkey}/messages` with the template code, the recipient's number,
`templateParameter` (the template's #{variables}), `resendParameter` (SMS fallback) where the
template asks for it, and `recipientGroupingKey` = the notice id. The sender adds
`X-Secret-Key` (from the environment) and `X-NC-API-IDEMPOTENCY-KEY` = the notice id (and the
number of fresh sends after a retryable delivery failure).

NHN only accepts a message; its delivery result is read later with
`GET …/messages/{requestId}/{recipientSeq}` (or pushed by NHN's result webhook). How codes map
(fact sheet §8): the send's header and per-recipient `resultCode` 0 -> accepted; a system error
(-9999, HTTP 5xx, no answer) or a bad app/secret key (-1000/-1001, an operator's fix) -> retry with
backoff; `-1005` (the same idempotency key within 10 minutes: the first send went through) ->
the message is found by its `recipientGroupingKey`; any other code (template, parameters, number)
-> given up. Delivery `1000` -> delivered; fallback `RSC04` -> delivered by SMS; `RSC02`/`RSC03`
-> still waiting for the SMS; Kakao's system errors 9998/9999 -> sent afresh; any other failure
-> failed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from ..config import AlimtalkSettings
from ..domain.notices import Notice, render
from ..jsontext import dumps
from ..outbound import Unreachable, call_json
from ..secrets import Secret
from .templates import Template

ACCEPTED, DELIVERED, FAILED, RETRY, PENDING = "accepted", "delivered", "failed", "retry", "pending"
RETRY_SEND_CODES = frozenset({-9999, -9998, -1000, -1001})
DUPLICATE_KEY = -1005
RETRY_DELIVERY_CODES = frozenset({"9998", "9999"})
SMS_DONE, SMS_WAITING, SMS_FAILED = "RSC04", ("RSC02", "RSC03"), "RSC05"
KST_FORMAT = "%Y-%m-%d %H:%M"


def recipient_no(phone: str) -> str:
    """A phone number as NHN takes it: digits only (a leading + kept), at most 15."""
    digits = re.sub(r"[^\d+]", "", phone)
    return digits[:15]


def request_body(notice: Notice, phone: str, template: Template,
                 settings: AlimtalkSettings) -> dict[str, Any]:
    """The send request of one notice (kept in the outbox; it holds no secret)."""
    values = dict(notice.variables)
    values["orderUrl"] = settings.order_url.format(order_id=notice.order_id)
    recipient: dict[str, Any] = {
        "recipientNo": recipient_no(phone),
        "templateParameter": {name: values.get(name, "") for name in template.variables},
        "recipientGroupingKey": notice.id,
    }
    if template.resend:
        text = render(template.text, values)
        recipient["resendParameter"] = {
            "isResend": True, "resendType": "SMS" if len(text.encode("euc-kr", "replace")) <= 90
            else "LMS", "resendContent": text,
            **({"resendSendNo": settings.resend_send_no} if settings.resend_send_no else {})}
    return {"senderKey": settings.sender_key, "templateCode": template.code,
            "recipientList": [recipient]}


@dataclass(frozen=True)
class Answer:
    """What a call to NHN came to."""

    outcome: str
    """accepted, retry, failed (send); delivered, failed, retry, pending (result)."""
    reference: str = ""
    """'<requestId>/<recipientSeq>' once accepted."""
    detail: str = ""
    """Codes and NHN's message, for the admin API."""


class AlimtalkClient:
    """Calls NHN Cloud; safe to call from threads. The secret key never leaves the header."""

    def __init__(self, settings: AlimtalkSettings, secret_key: Secret, timeout_s: float) -> None:
        self.base = (f"{settings.base_url.rstrip('/')}/alimtalk/v2.3/appkeys/"
                     f"{quote(settings.app_key, safe='')}")
        self.timeout_s = timeout_s
        self._secret = secret_key

    def _headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"X-Secret-Key": self._secret.reveal(),
                   "Content-Type": "application/json;charset=UTF-8"}
        if idempotency_key:
            headers["X-NC-API-IDEMPOTENCY-KEY"] = idempotency_key
        return headers

    def _call(self, method: str, path: str, body: str | None = None,
              idempotency_key: str | None = None) -> tuple[int, dict[str, Any]]:
        status, raw = call_json(method, self.base + path, body, self._headers(idempotency_key),
                                self.timeout_s)
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return status, data if isinstance(data, dict) else {}

    def send(self, payload: str, notice_id: str, generation: int) -> Answer:
        """Send one outbox entry; never raises."""
        key = notice_id if not generation else f"{notice_id}#{generation}"
        try:
            status, data = self._call("POST", "/messages", payload, key)
        except Unreachable as exc:
            return Answer(RETRY, detail=f"NHN unreachable: {str(exc)[:200]}")
        header = data.get("header") or {}
        code = _int(header.get("resultCode"))
        if status >= 500 or not header:
            return Answer(RETRY, detail=f"NHN answered HTTP {status} {code if code else ''}".strip())
        if code == DUPLICATE_KEY:
            return self.find(notice_id)
        if not header.get("isSuccessful") or code != 0:
            return _refused(code, header.get("resultMessage"))
        results = (data.get("message") or {}).get("sendResults") or []
        if not results:
            return Answer(RETRY, detail="NHN accepted the request but listed no recipient")
        first = results[0]
        code = _int(first.get("resultCode"))
        if code != 0:
            return _refused(code, first.get("resultMessage"))
        ref = f"{data['message'].get('requestId')}/{first.get('recipientSeq')}"
        return Answer(ACCEPTED, ref, "accepted by NHN")

    def find(self, notice_id: str) -> Answer:
        """The message sent earlier for a notice, by its recipientGroupingKey (after -1005)."""
        now = datetime.now()
        query = urlencode({"recipientGroupingKey": notice_id,
                           "startCreateDate": (now - timedelta(hours=1)).strftime(KST_FORMAT),
                           "endCreateDate": (now + timedelta(minutes=5)).strftime(KST_FORMAT)})
        try:
            _, data = self._call("GET", f"/messages?{query}")
        except Unreachable as exc:
            return Answer(RETRY, detail=f"NHN unreachable: {str(exc)[:200]}")
        found = ((data.get("messageSearchResultResponse") or {}).get("messages") or [])
        if not found:
            return Answer(RETRY, detail="-1005: sent under this key, not listed yet")
        m = found[0]
        return Answer(ACCEPTED, f"{m.get('requestId')}/{m.get('recipientSeq')}",
                      "accepted by NHN (found after -1005)")

    def result(self, reference: str) -> Answer:
        """The delivery result of an accepted message; never raises."""
        request_id, _, seq = reference.rpartition("/")
        try:
            status, data = self._call("GET", f"/messages/{quote(request_id, safe='')}/"
                                             f"{quote(seq, safe='')}")
        except Unreachable as exc:
            return Answer(PENDING, reference, f"NHN unreachable: {str(exc)[:200]}")
        header = data.get("header") or {}
        if status >= 400 or not header.get("isSuccessful"):
            return Answer(PENDING, reference, f"result query answered {status} "
                                              f"{header.get('resultCode', '')}".strip())
        return delivery_outcome(reference, data.get("message") or {})


def delivery_outcome(reference: str, message: dict[str, Any]) -> Answer:
    """How a message's result maps to delivered / failed / retry / pending."""
    status = str(message.get("messageStatus") or "")
    code = str(message.get("resultCode") or "")
    resend = str(message.get("resendStatus") or "")
    if resend == SMS_DONE:
        return Answer(DELIVERED, reference, f"delivered by SMS fallback (KakaoTalk {code})")
    if status == "COMPLETED" or code == "1000":
        return Answer(DELIVERED, reference, f"delivered by KakaoTalk ({code or status})")
    failed = status == "FAILED" or bool(code and code != "1000")
    if resend in SMS_WAITING and failed:
        return Answer(PENDING, reference, f"KakaoTalk failed ({code}); SMS fallback under way")
    if failed:
        if code in RETRY_DELIVERY_CODES and resend != SMS_FAILED:
            return Answer(RETRY, reference, f"Kakao system error {code}; sent again")
        why = " and SMS fallback failed" if resend == SMS_FAILED else ""
        return Answer(FAILED, reference, f"not delivered: Kakao {code or status}{why}")
    if status == "CANCEL":
        return Answer(FAILED, reference, "cancelled")
    return Answer(PENDING, reference, "no result yet")


def _refused(code: int | None, message: Any) -> Answer:
    text = f"NHN {code}: {str(message or '')[:200]}"
    if code in RETRY_SEND_CODES:
        return Answer(RETRY, detail=text)
    return Answer(FAILED, detail=f"refused for good, {text}")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def payload_text(body: dict[str, Any]) -> str:
    return dumps(body)


class ResultsHook:
    """NHN's result webhook (MESSAGE_RESULT_UPDATE): results recorded by message reference."""

    def __init__(self, db: Any, signature: Secret) -> None:
        from ..persistence.outbox import ALIMTALK, WebhookOutbox
        self.outbox, self.signature = WebhookOutbox(db, ALIMTALK), signature

    def record(self, results: list[tuple[str, int, str]]) -> int:
        """(requestId, recipientSeq, resultCode) of each hook; returns messages settled. A
        result worth a fresh send (9998/9999) is left to the poller, which sends it again."""
        updated = 0
        for request_id, seq, code in results:
            reference = f"{request_id}/{seq}"
            answer = delivery_outcome(reference, {"resultCode": code})
            if answer.outcome in (DELIVERED, FAILED):
                updated += self.outbox.settled_by_ref(reference, answer.outcome,
                                                      answer.detail + " (webhook)")
        return updated
