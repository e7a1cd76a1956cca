"""A local NHN Cloud KakaoTalk Bizmessage (AlimTalk) API v2.3: the documented subset, for the
tests and for demos (`python run.py fake-provider alimtalk --port P`). See
../shared/providers/alimtalk.md.

Like NHN: the app key in the path (-1000 when unknown), `X-Secret-Key` (-1001), a JSON content
type (-9996), `X-NC-API-IDEMPOTENCY-KEY` (a repeat within 10 minutes is refused with -1005, not
replayed), the sender key (-2017) and the registered templates (config/alimtalk-templates.toml:
unknown code -3003, parameters that do not match its #{variables} -3049), recipient numbers
(digits, at most 15: -4019 for that recipient), `{header, message: {requestId, sendResults}}`
answers, the result query `GET …/messages/{requestId}/{recipientSeq}` and the list
`GET …/messages?requestId=…|recipientGroupingKey=…&startCreateDate=…&endCreateDate=…`.

Delivery: a message is COMPLETED (1000) unless its number is in `undeliverable` (Kakao 3019, "not
a KakaoTalk user"): then with `resendParameter.isResend` the SMS fallback delivers it (RSC04),
without it the message FAILED. `kakao_error` makes the next N messages fail with Kakao's 9999.
Modes for tests (`/__fake/mode`): `fail_sends` (the next N sends answer HTTP 500 with -9999),
`delay_ms`. Both hosts (the current and the legacy one) are the same app here.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from ..config import ROOT
from ..notify.templates import load as load_templates

APP_KEY = "fake-app-key"
SECRET_KEY = "fake-nhn-secret-key"
SENDER_KEY = "f" * 40
IDEMPOTENCY_WINDOW_S = 600
VARIABLE = re.compile(r"#\{(\w+)\}")
PREFIX = "/alimtalk/v2.3/appkeys/{appkey}"


def _header(code: int = 0, message: str = "SUCCESS") -> dict[str, Any]:
    return {"resultCode": code, "resultMessage": message, "isSuccessful": code == 0}


@dataclass
class FakeAlimtalk:
    """The fake's books; `clock` (seconds) is injected for the 10-minute idempotency window."""

    templates: dict[str, str] = field(default_factory=dict)  # code -> text
    template_variables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    app_key: str = APP_KEY
    secret_key: str = SECRET_KEY
    sender_key: str = SENDER_KEY
    clock: Callable[[], float] = time.time
    undeliverable: set[str] = field(default_factory=set)
    kakao_error: int = 0
    kakao_error_to: str | None = None   # only messages to this number meet the errors (None: any)
    fail_sends: int = 0
    delay_ms: int = 0
    keys: dict[str, float] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)   # accepted, one per recipient
    send_calls: int = 0

    @classmethod
    def with_templates(cls, path: Path | None = None, **kw: Any) -> FakeAlimtalk:
        """A fake where every template of the table is registered and approved."""
        table = load_templates(path or ROOT / "config" / "alimtalk-templates.toml")
        return cls(templates={t.code: t.text for t in table.values()},
                   template_variables={t.code: t.variables for t in table.values()}, **kw)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PREFIX + "/messages", self.send)
        app.router.add_get(PREFIX + "/messages", self.list_messages)
        app.router.add_get(PREFIX + "/messages/{request_id}/{seq}", self.get_message)
        app.router.add_post("/__fake/mode", self.set_mode)
        app.router.add_get("/__fake/messages", self.dump)
        return app

    def _check(self, request: web.Request) -> web.Response | None:
        if request.match_info["appkey"] != self.app_key:
            return web.json_response({"header": _header(-1000, "Invalid appKey")})
        if request.headers.get("X-Secret-Key") != self.secret_key:
            return web.json_response({"header": _header(-1001, "Invalid secretKey")})
        return None

    async def send(self, request: web.Request) -> web.Response:
        self.send_calls += 1
        refused = self._check(request)
        if refused:
            return refused
        if not request.content_type.startswith("application/json"):
            return web.json_response({"header": _header(-9996, "Content-Type is not JSON")})
        if self.delay_ms:
            await asyncio.sleep(self.delay_ms / 1000)
        if self.fail_sends:
            self.fail_sends -= 1
            return web.json_response({"header": _header(-9999, "System error")}, status=500)
        key = request.headers.get("X-NC-API-IDEMPOTENCY-KEY")
        now = self.clock()
        if key:
            if now - self.keys.get(key, -1e12) < IDEMPOTENCY_WINDOW_S:
                return web.json_response({"header": _header(
                    -1005, "The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute.")})
            self.keys[key] = now
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"header": _header(4, "Invalid JSON")})
        if not isinstance(body, dict) or not isinstance(body.get("recipientList"), list) \
                or not 0 < len(body["recipientList"]) <= 1000:
            return web.json_response({"header": _header(4, "recipientList is required (1..1000)")})
        if body.get("senderKey") != self.sender_key:
            return web.json_response({"header": _header(-2017, "Sender profile does not exist")})
        code = body.get("templateCode")
        if code not in self.templates:
            return web.json_response({"header": _header(-3003, "Template does not exist")})
        request_id = now_id = f"{datetime.fromtimestamp(now):%Y%m%d%H%M%S}{uuid.uuid4().hex[:10]}"
        results = []
        for seq, r in enumerate(body["recipientList"], start=1):
            results.append(self._recipient(request_id, seq, code, body, r, now))
        return web.json_response({"header": _header(), "message": {
            "requestId": now_id, "senderGroupingKey": body.get("senderGroupingKey"),
            "sendResults": results}})

    def _recipient(self, request_id: str, seq: int, code: str, body: dict[str, Any],
                   r: Any, now: float) -> dict[str, Any]:
        number = r.get("recipientNo") if isinstance(r, dict) else None
        grouping = r.get("recipientGroupingKey") if isinstance(r, dict) else None
        result = {"recipientSeq": seq, "recipientNo": number, "recipientGroupingKey": grouping}
        if not isinstance(number, str) or not re.fullmatch(r"\+?\d{1,15}", number):
            return {**result, "resultCode": -4019, "resultMessage": "Invalid recipientNo"}
        params = r.get("templateParameter") or {}
        needed = set(self.template_variables.get(code, ()))
        if not isinstance(params, dict) or set(params) != needed:
            return {**result, "resultCode": -3049, "resultMessage": "templateParameter mismatch"}
        content = VARIABLE.sub(lambda m: str(params.get(m.group(1), "")), self.templates[code])
        resend = r.get("resendParameter") or {}
        wants_sms = bool(resend.get("isResend"))
        if self.kakao_error and self.kakao_error_to in (None, number):
            self.kakao_error -= 1
            status, delivery, sms = "FAILED", "9999", "RSC05" if wants_sms else "RSC01"
        elif number in self.undeliverable:
            status, delivery, sms = "FAILED", "3019", "RSC04" if wants_sms else "RSC01"
        else:
            status, delivery, sms = "COMPLETED", "1000", "RSC02" if wants_sms else "RSC01"
        if sms == "RSC02" and status == "COMPLETED":
            sms = "RSC01"  # delivered by KakaoTalk: no fallback
        self.messages.append({
            "requestId": request_id, "recipientSeq": seq, "plusFriendId": "@delivery",
            "senderKey": body["senderKey"], "templateCode": code, "recipientNo": number,
            "content": content, "templateParameter": params, "resendParameter": resend or None,
            "requestDate": f"{datetime.fromtimestamp(now):%Y-%m-%d %H:%M:%S}",
            "createDate": f"{datetime.fromtimestamp(now):%Y-%m-%d %H:%M:%S}",
            "receiveDate": f"{datetime.fromtimestamp(now):%Y-%m-%d %H:%M:%S}",
            "messageStatus": status, "resultCode": delivery, "resendStatus": sms,
            "recipientGroupingKey": grouping, "senderGroupingKey": body.get("senderGroupingKey"),
            "createdAt": now})
        return {**result, "resultCode": 0, "resultMessage": "SUCCESS"}

    async def get_message(self, request: web.Request) -> web.Response:
        refused = self._check(request)
        if refused:
            return refused
        for m in self.messages:
            if m["requestId"] == request.match_info["request_id"] and \
                    str(m["recipientSeq"]) == request.match_info["seq"]:
                return web.json_response({"header": _header(), "message": _public(m)})
        return web.json_response({"header": _header(-1016, "No message")})

    async def list_messages(self, request: web.Request) -> web.Response:
        refused = self._check(request)
        if refused:
            return refused
        q = request.query
        if not (q.get("requestId") or (q.get("startCreateDate") and q.get("endCreateDate"))
                or (q.get("startRequestDate") and q.get("endRequestDate"))):
            return web.json_response({"header": _header(4, "requestId or a date range is required")})
        found = [_public(m) for m in self.messages
                 if all(q.get(k) in (None, str(m.get(k))) for k in
                        ("requestId", "recipientGroupingKey", "templateCode", "recipientNo"))]
        return web.json_response({"header": _header(), "messageSearchResultResponse": {
            "messages": found, "totalCount": len(found)}})

    async def set_mode(self, request: web.Request) -> web.Response:
        body = await request.json()
        for name in ("fail_sends", "kakao_error", "delay_ms"):
            if name in body:
                setattr(self, name, int(body[name]))
        if "undeliverable" in body:
            self.undeliverable = set(body["undeliverable"])
        return web.json_response({"ok": True})

    async def dump(self, request: web.Request) -> web.Response:
        return web.json_response({"messages": [_public(m) for m in self.messages],
                                  "send_calls": self.send_calls})


def _public(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if k != "createdAt"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py fake-provider alimtalk",
                                     description="A local NHN Cloud AlimTalk API v2.3.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--app-key", default=APP_KEY)
    parser.add_argument("--secret-key", default=SECRET_KEY)
    parser.add_argument("--sender-key", default=SENDER_KEY)
    args = parser.parse_args(argv)
    fake = FakeAlimtalk.with_templates(app_key=args.app_key, secret_key=args.secret_key,
                                       sender_key=args.sender_key)
    print(f"fake NHN AlimTalk on http://{args.host}:{args.port} (app key {args.app_key}, "
          f"sender key {args.sender_key}; secret key as configured)", flush=True)
    web.run_app(fake.app(), host=args.host, port=args.port, print=None)
    return 0
