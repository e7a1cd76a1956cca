"""Kakao AlimTalk through the real service (aiohttp app, actors, outbox, sender) against the local
fake NHN Cloud Bizmessage API (a real aiohttp server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from delivery.fakes.alimtalk import APP_KEY, SECRET_KEY, SENDER_KEY, FakeAlimtalk
from delivery.http.app import create_app
from delivery.secrets import ALIMTALK_SECRET_KEY, ALIMTALK_WEBHOOK_SIGNATURE
from tests.conftest import make_settings

from .conftest import ADMIN, Api

pytestmark = pytest.mark.timeout(60)
CUSTOMER_PHONE, OWNER_PHONE = "010-1234-5678", "010-9876-5432"
SIGNATURE = "hook-signature-from-the-nhn-console"


@pytest.fixture
async def talk(aiohttp_client, aiohttp_server, tmp_path, monkeypatch):
    fake = FakeAlimtalk.with_templates()
    server = await aiohttp_server(fake.app(), host="127.0.0.1")
    monkeypatch.setenv(ALIMTALK_SECRET_KEY, SECRET_KEY)
    monkeypatch.setenv(ALIMTALK_WEBHOOK_SIGNATURE, SIGNATURE)
    settings = make_settings(tmp_path / "data", **{
        "notifications.channels": ["log", "alimtalk"],
        "notifications.alimtalk.base_url": str(server.make_url("")).rstrip("/"),
        "notifications.alimtalk.app_key": APP_KEY, "notifications.alimtalk.sender_key": SENDER_KEY,
        "notifications.alimtalk.poll_interval_s": 0.1,
        "notifications.alimtalk.resend_send_no": "0212345678",
        "notifications.alimtalk.order_url": "https://eats.example/orders/{order_id}"})
    api = Api(await aiohttp_client(create_app(settings, ADMIN)))
    _, c = await api.json("POST", "/customers", body={"name": "Kim", "phone": CUSTOMER_PHONE,
                                                      "location": {"lat": 37.4979, "lon": 127.0276}},
                          status=201)
    _, s = await api.json("POST", "/stores", body={
        "name": "Chicken", "owner_phone": OWNER_PHONE, "location": {"lat": 37.5004, "lon": 127.03},
        "menu": [{"name": "Fried chicken", "price": 18000}, {"name": "Cola", "price": 2000}]},
        status=201)
    rider = await api.rider()
    return api, fake, (c["id"], c["token"]), (s["id"], s["token"]), rider


async def notices(api, token) -> list[dict]:
    return (await api.json("GET", "/customers/me/notifications", token, status=200))[1]["notifications"]


async def settled(api, token, count: int, within_s: float = 15.0) -> list[dict]:
    """The customer's notices once `count` of them have a final delivery result."""
    deadline = time.monotonic() + within_s
    while True:
        found = await notices(api, token)
        if len(found) >= count and all(n["delivery"] in ("delivered", "failed") for n in found):
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)


async def full_order(api, customer, store, rider) -> tuple[str, int]:
    _, order = await api.place(customer[1], store[0], status=201)
    oid = order["id"]
    await api.json("POST", f"/orders/{oid}/payment", customer[1],
                   {"method": "card", "card_token": "tok_visa"}, status=200)
    for step in ("accept", "start-cooking", "finish-cooking"):
        await api.json("POST", f"/stores/{store[0]}/orders/{oid}/{step}", store[1], status=200)
    await api.json("POST", f"/deliveries/{oid}/pick", rider[1], status=200)
    await api.json("POST", f"/orders/{oid}/confirm-delivery", customer[1], status=200)
    return oid, order["total"]


def sent_for(fake, number: str) -> list[dict]:
    return [m for m in fake.messages if m["recipientNo"] == number]


async def test_every_status_change_sends_one_alimtalk_with_its_template_and_variables(talk):
    api, fake, customer, store, rider = talk
    oid, total = await full_order(api, customer, store, rider)
    found = await settled(api, customer[1], 7)
    assert {n["delivery"] for n in found} == {"delivered"} and {n["channel"] for n in found} == {"alimtalk"}
    to_customer = sent_for(fake, "01012345678")
    assert [m["templateCode"] for m in to_customer] == [
        "DLV_ORDER_PLACED", "DLV_ORDER_PAID", "DLV_ORDER_ACCEPTED", "DLV_COOKING", "DLV_COOKED",
        "DLV_PICKED_UP", "DLV_DELIVERED"]
    # one message per notice, keyed by the notice id; the text is the log channel's Korean line
    by_notice = {n["id"]: n for n in found}
    assert sorted(m["recipientGroupingKey"] for m in to_customer) == sorted(by_notice)
    for m in to_customer:
        assert m["content"] == by_notice[m["recipientGroupingKey"]]["text"].split("\n")[0]
    placed = to_customer[0]
    assert placed["templateParameter"] == {"orderUrl": f"https://eats.example/orders/{oid}"}
    assert to_customer[3]["templateParameter"] == {}  # the cooking template has no variables
    owner = sent_for(fake, "01098765432")
    assert [m["templateCode"] for m in owner] == ["DLV_OWNER_NEW_ORDER"]
    assert owner[0]["templateParameter"] == {
        "amount": f"{total:,}", "items": "Fried chicken x1, Cola x2",
        "orderUrl": f"https://eats.example/orders/{oid}"}
    assert owner[0]["resendParameter"]["resendSendNo"] == "0212345678"
    _, journal = await api.json("GET", f"/admin/api/orders/{oid}/events", ADMIN, status=200)
    shown = {n["kind"]: n["channels"]["alimtalk"]["delivery"] for n in journal["notifications"]}
    assert shown["new_order"] == "delivered" and shown["delivery_confirmed"] == "delivered"
    _, stats = await api.json("GET", "/admin/api/stats", ADMIN, status=200)
    assert stats["notifications"]["alimtalk"]["delivered"] == 8


async def test_an_undeliverable_alimtalk_falls_back_to_sms_where_configured(talk):
    api, fake, customer, store, _ = talk
    fake.undeliverable.add("01012345678")  # not a KakaoTalk user
    _, order = await api.place(customer[1], store[0], status=201)
    oid = order["id"]
    await api.json("POST", f"/orders/{oid}/payment", customer[1],
                   {"method": "card", "card_token": "tok_visa"}, status=200)
    await api.json("POST", f"/orders/{oid}/cancel", customer[1], {"reason": "too slow"}, status=200)
    found = {n["kind"]: n for n in await settled(api, customer[1], 4)}
    # order_cancelled and refund_completed have SMS fallback: delivered by SMS
    for kind in ("order_cancelled", "refund_completed"):
        assert found[kind]["delivery"] == "delivered", found[kind]
        assert "SMS" in found[kind]["delivery_detail"]
    # order_placed and order_paid have none: KakaoTalk could not deliver, and that is final
    for kind in ("order_placed", "order_paid"):
        assert found[kind]["delivery"] == "failed" and "3019" in found[kind]["delivery_detail"]
    refund = next(m for m in sent_for(fake, "01012345678") if m["templateCode"] == "DLV_REFUNDED")
    assert refund["resendParameter"]["resendContent"] == f"{order['total']:,}원이 환불되었습니다."
    assert len(sent_for(fake, "01012345678")) == 4  # one message each, never repeated


async def test_a_failing_send_is_retried_and_a_kakao_system_error_is_sent_again(talk):
    api, fake, customer, store, _ = talk
    fake.fail_sends = 2  # NHN answers HTTP 500 / -9999 twice
    _, order = await api.place(customer[1], store[0], status=201)
    found = await settled(api, customer[1], 1)
    assert found[0]["delivery"] == "delivered"
    assert fake.send_calls >= 3 and len(fake.messages) == 1
    # accepted, then Kakao's system error 9999 on the delivery of order_paid (no SMS fallback)
    fake.kakao_error, fake.kakao_error_to = 1, "01012345678"
    await api.json("POST", f"/orders/{order['id']}/payment", customer[1],
                   {"method": "card", "card_token": "tok_visa"}, status=200)
    found = await settled(api, customer[1], 2)
    assert {n["delivery"] for n in found} == {"delivered"}
    deadline = time.monotonic() + 10
    while (await api.json("GET", "/admin/api/stats", ADMIN))[1]["notifications"]["alimtalk"] \
            ["delivered"] < 3:  # the customer's two and the owner's new order
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    hit = [m for m in fake.messages if m["resultCode"] == "9999"]
    assert len(hit) == 1
    tries = [m for m in fake.messages if m["recipientGroupingKey"] == hit[0]["recipientGroupingKey"]]
    assert [m["resultCode"] for m in tries] == ["9999", "1000"]  # sent afresh, under a new key
    assert len(fake.keys) == fake.send_calls - 2  # every accepted send had its own key


async def test_nhn_result_webhook_is_checked_by_signature(talk):
    api, fake, customer, store, _ = talk
    r, problem = await api.json("POST", "/webhooks/alimtalk", body={"hooks": [
        {"requestId": "r", "recipientSeq": 1, "resultCode": "1000"}]})
    assert r.status == 403 and problem["code"] == "forbidden"
    r, problem = await api.json("POST", "/webhooks/alimtalk", body={"hooks": [{"requestId": "r"}]},
                                headers={"X-Toast-Webhook-Signature": SIGNATURE})
    assert r.status == 422 and problem["field"] == "hooks[0].recipientSeq"
    r, result = await api.json("POST", "/webhooks/alimtalk", body={"hooks": [
        {"requestId": "unknown", "recipientSeq": 1, "resultCode": "1000"}]},
        headers={"X-Toast-Webhook-Signature": SIGNATURE})
    assert r.status == 200 and result["updated"] == 0


async def test_the_nhn_secret_key_never_appears_in_logs_or_the_admin_api(talk, caplog):
    api, fake, customer, store, rider = talk
    caplog.set_level(logging.DEBUG)
    fake.fail_sends = 1
    oid, _ = await full_order(api, customer, store, rider)
    await settled(api, customer[1], 7)
    seen = [await notices(api, customer[1])]
    for path in ("/admin/api/stats", "/admin/api/actors", f"/admin/api/orders/{oid}/events",
                 "/admin/api/payment"):
        seen.append((await api.json("GET", path, ADMIN, status=200))[1])
    r, problem = await api.json("POST", "/webhooks/alimtalk", body={"hooks": [
        {"requestId": "r", "recipientSeq": 1, "resultCode": "1000"}]},
        headers={"X-Toast-Webhook-Signature": "wrong"})
    seen.append(problem)
    text = repr(seen) + caplog.text
    assert SECRET_KEY not in text and SIGNATURE not in text
