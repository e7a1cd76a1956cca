"""The webhook channel: a Kakao AlimTalk-shaped JSON message POSTed to notifications.webhook_url."""

from __future__ import annotations

from typing import Any

from ..domain.notices import Notice
from ..outbound import Unreachable, post_json

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
    try:
        status, _ = post_json(url, body, timeout_s=timeout_s)
    except Unreachable as exc:
        raise WebhookError(f"webhook unreachable: {exc}") from exc
    if not 200 <= status < 300:
        raise WebhookError(f"webhook answered {status}")
