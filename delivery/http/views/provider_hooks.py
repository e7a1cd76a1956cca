"""Webhooks of the outside services: Toss Payments' payment events (`POST /webhooks/toss`) and
NHN Cloud's AlimTalk delivery results (`POST /webhooks/alimtalk`).

Neither body is trusted. A Toss event names a payment; the payment is looked up at Toss
(`GET /v1/payments/{paymentKey}`, with our secret key) and only what Toss answers there is
recorded: a payment cancelled on Toss's side becomes a refund in the order's journal (once: the
order decides, and a second event changes nothing), an approved payment whose answer we lost is
recorded as the order's payment. Toss retries a webhook until it gets 200, so an event we cannot
act on now (Toss unreachable) is answered 503, and one that concerns nothing of ours 200
`ignored`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web

from ...domain import commands as c
from ...domain import order
from ...payment.provider import ProviderError
from ...payment.toss import APPROVED, CANCELED, PARTIAL_CANCELED, cancel_reference, cancelled_amount
from ..keys import ALIMTALK_HOOKS, BRIDGE, READS, TOSS
from ..problems import Problem
from ..wire import read_body, respond

log = logging.getLogger("delivery.webhooks")

TOSS_EVENTS = ("PAYMENT_STATUS_CHANGED", "CANCEL_STATUS_CHANGED", "DEPOSIT_CALLBACK")


def _result(request: web.Request, result: str, detail: str, order_id: str | None = None,
            status: str | None = None) -> web.Response:
    return respond(request, {"result": result, "detail": detail, "order_id": order_id,
                             "payment_status": status})


async def toss_webhook(request: web.Request) -> web.Response:
    body = await read_body(request)
    event = body.str("eventType", required=False, max_len=64)
    # PAYMENT_STATUS_CHANGED carries the Payment in `data`; DEPOSIT_CALLBACK is flat.
    data = body.obj("data") if event != "DEPOSIT_CALLBACK" else body
    payment_key = data.str("paymentKey", required=False, max_len=200)
    order_id = data.str("orderId", required=not payment_key, max_len=64)
    provider = request.app.get(TOSS)
    if provider is None:
        raise Problem("not_found", "Toss webhooks are off: payment.provider is not toss")
    if event and event not in TOSS_EVENTS:
        return _result(request, "ignored", f"event {event} is not one we act on")
    loop = asyncio.get_running_loop()
    try:  # the body only names the payment; Toss's own record decides
        payment = await loop.run_in_executor(
            None, provider.payment if payment_key else provider.payment_of_order,
            payment_key or order_id)
    except ProviderError as exc:
        raise Problem("service_unavailable", f"the payment could not be looked up at Toss: {exc}",
                      retry_after=60) from None
    if payment is None:
        return _result(request, "ignored", "Toss has no such payment")
    return await _reconcile(request, payment)


async def _reconcile(request: web.Request, payment: dict[str, Any]) -> web.Response:
    order_id, status = str(payment.get("orderId") or ""), str(payment.get("status") or "")
    state = request.app[READS].state(order_id) if order_id else None
    if state is None:
        return _result(request, "ignored", "the payment is not of an order of ours", None, status)
    key = str(payment.get("paymentKey") or "")
    if status == CANCELED:
        cancels = payment.get("cancels") or [{}]
        reason = str(cancels[-1].get("cancelReason") or order.PROVIDER_CANCELLED)[:200]
        command = c.RecordProviderRefund(order_id, key, cancel_reference(payment),
                                         cancelled_amount(payment), reason)
        view = await request.app[BRIDGE].command("orders", command)
        recorded = view["payment"]["status"] == order.REFUNDED and state.payment_status != order.REFUNDED
        return _result(request, "recorded" if recorded else "unchanged",
                       f"payment cancelled at Toss; order payment {view['payment']['status']}",
                       order_id, status)
    if status == PARTIAL_CANCELED:
        log.warning("payment %s of order %s was partly cancelled at Toss; partial refunds are "
                    "not recorded by the service, settle it by hand", key, order_id)
        return _result(request, "ignored", "partial cancels are not recorded; settle by hand",
                       order_id, status)
    if status == APPROVED and state.payment_status == order.UNPAID:
        if payment.get("totalAmount") != state.total:
            log.error("payment %s of order %s is of %s won, the order of %s", key, order_id,
                      payment.get("totalAmount"), state.total)
            return _result(request, "ignored", "the amount differs from the order's", order_id,
                           status)
        command = c.RecordPayment(order_id, key, "card", state.total,
                                  str(payment.get("approvedAt") or ""),
                                  str(payment.get("method") or ""))
        await request.app[BRIDGE].command("orders", command)
        return _result(request, "recorded", "approved payment recorded", order_id, status)
    return _result(request, "unchanged", "nothing to record", order_id, status)


async def alimtalk_webhook(request: web.Request) -> web.Response:
    body = await read_body(request)
    hooks = body.list("hooks", 1000)
    results = [(h.str("requestId", max_len=100), h.int("recipientSeq", 0, 10**6),
                h.str("resultCode", max_len=16)) for h in hooks]
    receiver = request.app.get(ALIMTALK_HOOKS)
    if receiver is None:
        raise Problem("not_found", "AlimTalk webhooks are off: the alimtalk channel is not on")
    expected = receiver.signature
    given = request.headers.get("X-Toast-Webhook-Signature", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.reveal().encode()):
        raise Problem("forbidden", "the X-Toast-Webhook-Signature header is missing or wrong")
    updated = await asyncio.get_running_loop().run_in_executor(None, receiver.record, results)
    return respond(request, {"result": "recorded", "updated": updated})
