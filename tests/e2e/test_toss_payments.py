"""Payments through Toss Payments: the real service (aiohttp app, actors) against the local fake
Toss (a real aiohttp server on 127.0.0.1), with payment.provider = "toss"."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from delivery.fakes.toss import TEST_SECRET_KEY, FakeToss
from delivery.http.app import create_app
from delivery.payment.toss import basic_auth
from delivery.secrets import TOSS_SECRET_KEY
from tests.conftest import make_settings

from .conftest import ADMIN, Api

pytestmark = pytest.mark.timeout(60)
CALL_TIMEOUT_MS = 300


@pytest.fixture
async def toss(aiohttp_client, aiohttp_server, tmp_path, monkeypatch):
    fake = FakeToss()
    server = await aiohttp_server(fake.app(), host="127.0.0.1")
    monkeypatch.setenv(TOSS_SECRET_KEY, TEST_SECRET_KEY)
    settings = make_settings(tmp_path / "data", **{
        "payment.provider": "toss", "payment.toss.base_url": str(server.make_url("")).rstrip("/"),
        "payment.call_timeout_ms": CALL_TIMEOUT_MS, "payment.breaker.failure_threshold": 3})
    api = Api(await aiohttp_client(create_app(settings, ADMIN)))
    customer, store = await api.customer(), await api.store()
    return api, fake, customer, store


async def new_order(api, customer, store) -> dict:
    _, order = await api.place(customer[1], store[0], status=201)
    return order


async def pay(api, customer, oid, payment_key):
    return await api.json("POST", f"/orders/{oid}/payment", customer[1],
                          {"method": "card", "card_token": payment_key})


async def journal(api, oid) -> list[dict]:
    _, data = await api.json("GET", f"/admin/api/orders/{oid}/events", ADMIN, status=200)
    return data["events"]


async def view_of(api, customer, oid) -> dict:
    return (await api.json("GET", f"/orders/{oid}", customer[1], status=200))[1]


async def until(condition, within_s: float = 8.0) -> None:
    deadline = time.monotonic() + within_s
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_an_order_paid_with_toss_is_confirmed_once_and_refunded_once_on_cancel(toss):
    api, fake, customer, store = toss
    order = await new_order(api, customer, store)
    oid, total = order["id"], order["total"]
    r, paid = await pay(api, customer, oid, "pk_live_like_key_0001")
    assert r.status == 200 and paid["payment"]["status"] == "paid"
    payment = fake.payments["pk_live_like_key_0001"]
    assert (payment["orderId"], payment["totalAmount"], payment["status"]) == (oid, total, "DONE")
    assert fake.confirms(oid) == 1
    paid_event = next(e for e in await journal(api, oid) if e["kind"] == "OrderPaid")
    # paymentKey, approvedAt and Toss's method are kept in the journal
    assert paid_event["data"]["payment_id"] == "pk_live_like_key_0001"
    assert paid_event["data"]["approved_at"] == payment["approvedAt"]
    assert paid_event["data"]["provider_method"] == "카드"

    r, _ = await api.json("POST", f"/orders/{oid}/cancel", customer[1], {"reason": "changed my mind"})
    assert r.status == 200

    async def refunded():
        return (await view_of(api, customer, oid))["payment"]["status"] == "refunded"
    await until(refunded)
    assert fake.confirms(oid) == 1 and fake.cancels(oid) == 1
    cancel = payment["cancels"][0]
    assert (cancel["cancelAmount"], cancel["cancelReason"]) == (total, "changed my mind")
    assert (payment["status"], payment["balanceAmount"]) == ("CANCELED", 0)
    refund = [e for e in await journal(api, oid) if e["kind"] == "RefundCompleted"]
    assert len(refund) == 1
    assert (refund[0]["data"]["refund_id"], refund[0]["data"]["amount"]) == \
        (cancel["transactionKey"], total)


async def test_a_rejected_order_is_refunded_with_the_stores_reason(toss):
    api, fake, customer, store = toss
    oid = (await new_order(api, customer, store))["id"]
    assert (await pay(api, customer, oid, "pk_reject_0002"))[0].status == 200
    await api.json("POST", f"/stores/{store[0]}/orders/{oid}/reject", store[1],
                   {"reason": "out of chicken"}, status=200)

    async def refunded():
        return (await view_of(api, customer, oid))["payment"]["status"] == "refunded"
    await until(refunded)
    assert fake.payments["pk_reject_0002"]["cancels"][0]["cancelReason"] == "out of chicken"
    assert fake.cancels(oid) == 1


async def test_a_declined_card_is_402_with_tosss_message_and_the_order_stays_payable(toss):
    api, fake, customer, store = toss
    oid = (await new_order(api, customer, store))["id"]
    r, problem = await pay(api, customer, oid, "tok_declined")
    assert r.status == 402 and problem["code"] == "payment_declined"
    assert problem["field"] == "card_token"
    assert "결제 승인이 거절되었습니다." in problem["detail"] and "REJECT_CARD_COMPANY" in problem["detail"]
    assert (await view_of(api, customer, oid))["payment"]["status"] == "unpaid"
    assert fake.confirms(oid) == 0
    # declines do not count for the breaker: three of them leave it closed
    for _ in range(3):
        other = (await new_order(api, customer, store))["id"]
        assert (await pay(api, customer, other, "tok_declined"))[0].status == 402
    status = (await api.json("GET", "/admin/api/payment", ADMIN, status=200))[1]
    assert status["circuit"]["state"] == "closed"
    # the same order is payable again with another card (a new paymentKey from the SDK)
    r, paid = await pay(api, customer, oid, "pk_second_card_0003")
    assert r.status == 200 and paid["payment"]["status"] == "paid"
    assert fake.confirms(oid) == 1


@pytest.mark.parametrize("fault", ["5xx", "timeout"])
async def test_provider_errors_and_timeouts_open_the_breaker_and_recovery_closes_it(toss, fault):
    api, fake, customer, store = toss
    first = (await new_order(api, customer, store))["id"]
    assert (await pay(api, customer, first, "pk_healthy_0004"))[0].status == 200
    if fault == "5xx":
        fake.mode.fail_status = 500
    else:
        fake.mode.delay_ms = CALL_TIMEOUT_MS + 300
    unpaid = []
    for n in range(3):
        oid = (await new_order(api, customer, store))["id"]
        r, problem = await pay(api, customer, oid, f"pk_sick_{n}_0005")
        assert r.status == 503 and problem["code"] == "payment_unavailable", problem
        unpaid.append((oid, f"pk_sick_{n}_0005"))
    status = (await api.json("GET", "/admin/api/payment", ADMIN, status=200))[1]
    assert status["circuit"]["state"] == "open"
    calls_when_open = len(fake.calls)
    oid = (await new_order(api, customer, store))["id"]
    started = time.perf_counter()
    r, problem = await pay(api, customer, oid, "pk_refused_0006")
    assert r.status == 503 and time.perf_counter() - started < 0.2
    assert int(r.headers["Retry-After"]) >= 1
    assert len(fake.calls) == calls_when_open  # Toss is spared while the circuit is open
    fake.mode.fail_status = fake.mode.delay_ms = 0
    await asyncio.sleep(CALL_TIMEOUT_MS / 1000 + 0.3)  # slow confirms still in the fake finish

    async def closes():
        oid_, key = unpaid[0]
        r, _ = await pay(api, customer, oid_, key)
        return r.status == 200
    await until(closes)
    for oid_, key in unpaid[1:]:
        r, view = await pay(api, customer, oid_, key)
        assert r.status == 200 and view["payment"]["status"] == "paid"
    for oid_, _ in unpaid:  # a slow confirm that went through is replayed, never charged twice
        assert fake.confirms(oid_) == 1
    status = (await api.json("GET", "/admin/api/payment", ADMIN, status=200))[1]
    assert status["circuit"]["state"] == "closed"


async def test_a_confirm_whose_answer_is_lost_is_reconciled_and_charged_once(toss):
    api, fake, customer, store = toss
    oid = (await new_order(api, customer, store))["id"]
    fake.mode.drop_after_commit = 1  # Toss approves, then the connection drops
    r, view = await pay(api, customer, oid, "pk_lost_answer_0007")
    assert r.status == 200 and view["payment"]["status"] == "paid"
    assert fake.confirms(oid) == 1
    assert ("GET", f"/v1/payments/orders/{oid}") in fake.calls  # settled by looking it up
    r, problem = await pay(api, customer, oid, "pk_lost_answer_0007")
    assert r.status == 409 and problem["code"] == "already_paid"
    assert fake.confirms(oid) == 1


async def test_already_processed_payment_is_settled_by_lookup(toss, aiohttp_client):
    api, fake, customer, store = toss
    order = await new_order(api, customer, store)
    oid = order["id"]
    # The payment was confirmed already (say by an earlier attempt without our key): Toss answers
    # ALREADY_PROCESSED_PAYMENT, and the adapter asks Toss for the order's payment before answering.
    direct = await aiohttp_client(fake.app())
    r = await direct.post("/v1/payments/confirm", headers={"Authorization": basic_auth(TEST_SECRET_KEY)},
                          json={"paymentKey": "pk_processed_0008", "orderId": oid,
                                "amount": order["total"]})
    assert r.status == 200
    r, view = await pay(api, customer, oid, "pk_processed_0008")
    assert r.status == 200 and view["payment"]["status"] == "paid"
    assert fake.confirms(oid) == 1
    assert ("GET", f"/v1/payments/orders/{oid}") in fake.calls


async def test_a_payment_cancelled_at_toss_becomes_one_refund_through_the_webhook(toss):
    api, fake, customer, store = toss
    oid = (await new_order(api, customer, store))["id"]
    assert (await pay(api, customer, oid, "pk_dashboard_0009"))[0].status == 200
    await api.json("POST", f"/stores/{store[0]}/orders/{oid}/accept", store[1], status=200)
    # A forged event claiming a cancel is checked against Toss, which says DONE: nothing changes.
    forged = {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-01-02T14:46:59.65327",
              "data": {"paymentKey": "pk_dashboard_0009", "orderId": oid, "status": "CANCELED"}}
    r, result = await api.json("POST", "/webhooks/toss", body=forged)
    assert r.status == 200 and result["result"] == "unchanged"
    assert (await view_of(api, customer, oid))["payment"]["status"] == "paid"

    event = fake.dashboard_cancel_now("pk_dashboard_0009", "고객 요청 취소")
    for attempt in range(2):  # Toss retries webhooks: the second changes nothing
        r, result = await api.json("POST", "/webhooks/toss", body=event)
        assert r.status == 200 and result["result"] == ("recorded" if attempt == 0 else "unchanged")
    view = await view_of(api, customer, oid)
    assert (view["status"], view["payment"]["status"]) == ("cancelled", "refunded")
    events = await journal(api, oid)
    refunds = [e for e in events if e["kind"] == "RefundCompleted"]
    assert len(refunds) == 1 and refunds[0]["data"]["amount"] == view["total"]
    await asyncio.sleep(0.3)  # the service must not send a cancel of its own
    assert fake.cancels(oid) == 1


async def test_webhook_bodies_are_checked_and_name_the_field(toss):
    api, _, _, _ = toss
    r, problem = await api.json("POST", "/webhooks/toss", body={"eventType": "PAYMENT_STATUS_CHANGED"})
    assert r.status == 422 and problem["field"] == "data"
    r, problem = await api.json("POST", "/webhooks/toss",
                                body={"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": 5}})
    assert r.status == 422 and problem["field"] == "data.paymentKey"
    r, result = await api.json("POST", "/webhooks/toss", body={
        "eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "pk_unknown_0010"}})
    assert r.status == 200 and result["result"] == "ignored"


async def test_the_secret_key_never_appears_in_logs_admin_api_or_errors(toss, caplog):
    api, fake, customer, store = toss
    caplog.set_level(logging.DEBUG)
    seen = []
    oid = (await new_order(api, customer, store))["id"]
    seen.append((await pay(api, customer, oid, "tok_declined"))[1])
    fake.mode.fail_status = 500
    seen.append((await pay(api, customer, oid, "pk_secret_0011"))[1])
    fake.mode.fail_status = 0
    fake.secret_keys = ("test_sk_another_key_entirely",)  # our key is refused: 401 at Toss
    seen.append((await pay(api, customer, oid, "pk_secret_0011"))[1])
    for path in ("/admin/api/payment", "/admin/api/stats", "/admin/api/actors",
                 f"/admin/api/orders/{oid}/events", "/openapi.json"):
        seen.append((await api.json("GET", path, ADMIN, status=200))[1])
    text = repr(seen) + caplog.text
    assert "503" in repr(seen[1]) or seen[1]["code"] == "payment_unavailable"
    for secret in (TEST_SECRET_KEY, TEST_SECRET_KEY[8:]):
        assert secret not in text
    import base64
    assert base64.b64encode(f"{TEST_SECRET_KEY}:".encode()).decode() not in text
