"""The webhook channel: a Kakao AlimTalk-shaped JSON message POSTed to notifications.webhook_url."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

from ..domain.notices import Notice

SENDER_KEY = "delivery-platform"


def alimtalk_message(notice: Notice, phone: str) -> dict[str, Any]:
    """The message in the shape of an AlimTalk template message (recipient, template, text, buttons)."""
    return {
        "message_id": notice.id,  # receivers deduplicate by it
        "sender_key": SENDER_KEY,
        "template_code": notice.kind,
        "recipient_no": phone,
        "recipient_kind": notice.recipient_kind,
        "text": notice.text,
        "buttons": [{"type": "WL", "name": "주문 보기 / View order",
                     "link_mobile": f"/orders/{notice.order_id}",
                     "link_pc": f"/orders/{notice.order_id}"}],
        "at": notice.at,
    }


class WebhookError(Exception):
    """The webhook did not take the message."""


def post(url: str, body: str, timeout_s: float) -> None:
    """POST one message; raises WebhookError unless the receiver answers 2xx."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    try:
        conn.request("POST", parts.path or "/", body.encode(),
                     {"Content-Type": "application/json; charset=utf-8"})
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise WebhookError(f"webhook unreachable: {exc}") from exc
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise WebhookError(f"webhook answered {response.status}")
