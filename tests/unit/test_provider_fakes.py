"""The local fakes behave like the documented APIs (auth, idempotency, test codes), and the
adapters' mapping of answers. The fakes are real aiohttp apps driven by aiohttp's test client."""

from __future__ import annotations

import base64

import pytest

from delivery.fakes.alimtalk import APP_KEY, SECRET_KEY, SENDER_KEY, FakeAlimtalk
from delivery.fakes.toss import TEST_SECRET_KEY, FakeToss
from delivery.notify import alimtalk
from delivery.payment.toss import basic_auth, is_decline

pytestmark = pytest.mark.timeout(30)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def confirm_body(order_id="order_000001", key="pk_1", amount=15000):
    return {"paymentKey": key, "orderId": order_id, "amount": amount}


async def test_toss_basic_auth_needs_the_colon_and_takes_padded_or_unpadded_base64(aiohttp_client):
    client = await aiohttp_client(FakeToss().app())
    no_colon = "Basic " + base64.b64encode(TEST_SECRET_KEY.encode()).decode()
    r = await client.post("/v1/payments/confirm", json=confirm_body(), headers={"Authorization": no_colon})
    assert (r.status, (await r.json())["code"]) == (403, "INCORRECT_BASIC_AUTH_FORMAT")
    r = await client.post("/v1/payments/confirm", json=confirm_body(),
                          headers={"Authorization": basic_auth("test_sk_unknown")})
    assert (r.status, (await r.json())["code"]) == (401, "UNAUTHORIZED_KEY")
    unpadded = basic_auth(TEST_SECRET_KEY).rstrip("=")
    r = await client.post("/v1/payments/confirm", json=confirm_body(), headers={"Authorization": unpadded})
    assert r.status == 200 and (await r.json())["status"] == "DONE"


async def test_toss_idempotency_replays_for_15_days_whatever_the_body(aiohttp_client):
    clock = Clock()
    fake = FakeToss(clock=clock)
    client = await aiohttp_client(fake.app())
    auth = {"Authorization": basic_auth(TEST_SECRET_KEY), "Idempotency-Key": "k1"}
    first = await (await client.post("/v1/payments/confirm", json=confirm_body(), headers=auth)).json()
    r = await client.post("/v1/payments/confirm", json=confirm_body(key="pk_other"), headers=auth)
    assert r.headers.get("X-Fake-Replayed") == "true" and await r.json() == first
    assert fake.confirms("order_000001") == 1
    clock.now += 15 * 24 * 3600 + 1  # the key expired: the request is carried out (and refused)
    r = await client.post("/v1/payments/confirm", json=confirm_body(), headers=auth)
    assert (r.status, (await r.json())["code"]) == (400, "ALREADY_PROCESSED_PAYMENT")
    r = await client.post("/v1/payments/confirm", json=confirm_body(),
                          headers={**auth, "Idempotency-Key": "k" * 301})
    assert (await r.json())["code"] == "INVALID_IDEMPOTENCY_KEY"


async def test_toss_test_code_header_forces_an_error_with_test_keys_only(aiohttp_client):
    fake = FakeToss(secret_keys=(TEST_SECRET_KEY, "live_sk_real"))
    client = await aiohttp_client(fake.app())
    headers = {"Authorization": basic_auth(TEST_SECRET_KEY),
               "TossPayments-Test-Code": "INVALID_CARD_EXPIRATION", "Accept-Language": "en-US"}
    r = await client.post("/v1/payments/confirm", json=confirm_body(), headers=headers)
    body = await r.json()
    assert (r.status, body["code"]) == (400, "INVALID_CARD_EXPIRATION") and "expiry" in body["message"]
    r = await client.post("/v1/payments/confirm", json=confirm_body(),
                          headers={**headers, "TossPayments-Test-Code": "NO_SUCH_CODE"})
    assert (await r.json())["code"] == "INVALID_TEST_CODE"
    r = await client.post("/v1/payments/confirm", json=confirm_body(),
                          headers={**headers, "Authorization": basic_auth("live_sk_real")})
    assert r.status == 200  # ignored with a live key


async def test_toss_lookups_and_cancel(aiohttp_client):
    client = await aiohttp_client(FakeToss().app())
    auth = {"Authorization": basic_auth(TEST_SECRET_KEY)}
    await client.post("/v1/payments/confirm", json=confirm_body(), headers=auth)
    r = await client.get("/v1/payments/orders/order_000001", headers=auth)
    assert (await r.json())["paymentKey"] == "pk_1"
    r = await client.get("/v1/payments/nope", headers=auth)
    assert (r.status, (await r.json())["code"]) == (404, "NOT_FOUND_PAYMENT")
    r = await client.post("/v1/payments/pk_1/cancel", json={}, headers=auth)
    assert (await r.json())["code"] == "INVALID_REQUEST"  # cancelReason is required
    r = await client.post("/v1/payments/pk_1/cancel", json={"cancelReason": "x"}, headers=auth)
    assert (await r.json())["status"] == "CANCELED"
    r = await client.post("/v1/payments/pk_1/cancel", json={"cancelReason": "x"}, headers=auth)
    assert (await r.json())["code"] == "ALREADY_CANCELED_PAYMENT"


@pytest.mark.parametrize("code,declined", [
    ("REJECT_CARD_COMPANY", True), ("INVALID_CARD_EXPIRATION", True), ("EXCEED_MAX_AMOUNT", True),
    ("INVALID_STOPPED_CARD", True), ("PROVIDER_ERROR", False),
    ("FAILED_INTERNAL_SYSTEM_PROCESSING", False), ("UNAUTHORIZED_KEY", False),
    ("ALREADY_PROCESSED_PAYMENT", False)])
def test_toss_codes_are_declines_only_when_the_card_or_buyer_is_at_fault(code, declined):
    assert is_decline(code) is declined


async def test_nhn_rejects_a_repeated_idempotency_key_within_ten_minutes(aiohttp_client):
    clock = Clock()
    fake = FakeAlimtalk.with_templates(clock=clock)
    client = await aiohttp_client(fake.app())
    path = f"/alimtalk/v2.3/appkeys/{APP_KEY}/messages"
    body = {"senderKey": SENDER_KEY, "templateCode": "DLV_COOKING",
            "recipientList": [{"recipientNo": "01012345678", "templateParameter": {}}]}
    headers = {"X-Secret-Key": SECRET_KEY, "X-NC-API-IDEMPOTENCY-KEY": "n1"}
    first = await (await client.post(path, json=body, headers=headers)).json()
    assert first["header"]["isSuccessful"] and first["message"]["sendResults"][0]["resultCode"] == 0
    again = await (await client.post(path, json=body, headers=headers)).json()
    assert again["header"]["resultCode"] == -1005 and len(fake.messages) == 1
    clock.now += 601
    later = await (await client.post(path, json=body, headers=headers)).json()
    assert later["header"]["resultCode"] == 0 and len(fake.messages) == 2
    wrong = await (await client.post(path, json=body, headers={"X-Secret-Key": "nope"})).json()
    assert wrong["header"]["resultCode"] == -1001
    bad = {**body, "recipientList": [{"recipientNo": "01012345678",
                                      "templateParameter": {"amount": "1"}}]}
    answer = await (await client.post(path, json=bad, headers={"X-Secret-Key": SECRET_KEY})).json()
    assert answer["message"]["sendResults"][0]["resultCode"] == -3049
    ref = f"{first['message']['requestId']}/1"
    request_id, seq = ref.split("/")
    result = await (await client.get(f"/alimtalk/v2.3/appkeys/{APP_KEY}/messages/{request_id}/{seq}",
                                     headers={"X-Secret-Key": SECRET_KEY})).json()
    assert result["message"]["messageStatus"] == "COMPLETED"


@pytest.mark.parametrize("message,outcome", [
    ({"messageStatus": "COMPLETED", "resultCode": "1000"}, alimtalk.DELIVERED),
    ({"messageStatus": "FAILED", "resultCode": "3019", "resendStatus": "RSC04"}, alimtalk.DELIVERED),
    ({"messageStatus": "FAILED", "resultCode": "3019", "resendStatus": "RSC03"}, alimtalk.PENDING),
    ({"messageStatus": "FAILED", "resultCode": "3019", "resendStatus": "RSC01"}, alimtalk.FAILED),
    ({"messageStatus": "FAILED", "resultCode": "9999", "resendStatus": "RSC01"}, alimtalk.RETRY),
    ({"messageStatus": "FAILED", "resultCode": "3018", "resendStatus": "RSC05"}, alimtalk.FAILED),
    ({}, alimtalk.PENDING)])
def test_alimtalk_delivery_results_map_to_delivered_retry_or_failed(message, outcome):
    assert alimtalk.delivery_outcome("r/1", message).outcome == outcome


def test_recipient_numbers_are_digits():
    assert alimtalk.recipient_no("010-1234-5678") == "01012345678"
