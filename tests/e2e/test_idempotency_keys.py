"""Registration Idempotency-Keys: one key, one body, one token, for a day (issue 12, item 6)."""

from __future__ import annotations

import asyncio

import pytest

from delivery.http.app import create_app
from delivery.http.idempotency import CLOCK
from delivery.http.keys import DB
from delivery.persistence.idempotency import IdempotencyRecords
from tests.conftest import make_settings
from tests.unit.fakes import FakeClock

from .conftest import ADMIN, Api

PERSON = {"name": "Han", "phone": "010", "location": {"lat": 37.5, "lon": 127.0}}
OTHER = {"name": "Mallory", "phone": "011", "location": {"lat": 37.5, "lon": 127.0}}
DAY_S = 24 * 3600


def store_body(name: str) -> dict:
    return {"name": name, "owner_phone": "010", "location": {"lat": 37.5, "lon": 127.03},
            "menu": [{"name": "Soup", "price": 9000}]}


@pytest.fixture
def wall():
    return FakeClock(1_800_000_000.0)


@pytest.fixture
async def keyed(aiohttp_client, tmp_path, wall):
    app = create_app(make_settings(tmp_path / "data"), ADMIN)
    app[CLOCK] = wall
    return Api(await aiohttp_client(app))


async def register(api: Api, path: str, body: dict, key: str, status: int | None = None):
    r, data = await api.json("POST", path, body=body, headers={"Idempotency-Key": key},
                             status=status)
    return r.status, data


def without_request_id(problem: dict) -> dict:
    return {k: v for k, v in problem.items() if k != "request_id"}


async def test_a_repeated_registration_gets_its_id_and_never_the_token(keyed):
    _, first = await register(keyed, "/customers", PERSON, "k1", status=201)
    _, again = await register(keyed, "/customers", PERSON, "k1", status=409)
    assert again["code"] == "already_registered" and again["id"] == first["id"]
    assert "token" not in again and first["token"] not in str(again)
    await keyed.json("GET", "/customers/me/orders", first["token"], status=200)


async def test_a_key_reused_with_another_body_says_nothing_of_the_first_registration(keyed):
    _, han = await register(keyed, "/customers", PERSON, "k-han", status=201)
    _, kim = await register(keyed, "/riders", {**PERSON, "name": "Kim"}, "k-kim", status=201)
    _, on_han = await register(keyed, "/customers", OTHER, "k-han", status=422)
    _, on_kim = await register(keyed, "/riders", OTHER, "k-kim", status=422)
    assert on_han["code"] == "idempotency_key_reused" and on_han["field"] == "Idempotency-Key"
    # One fixed document for every reused key: no id, token or trace of who used it first.
    assert without_request_id(on_han) == without_request_id(on_kim)
    for leaked in (han["id"], han["token"], kim["id"], kim["token"]):
        assert leaked not in str(on_han) and leaked not in str(on_kim)


async def test_stores_racing_on_one_key_with_different_bodies_get_one_token(keyed):
    answers = await asyncio.gather(*[register(keyed, "/stores", store_body(f"Store {i}"), "race")
                                     for i in range(4)])
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201, 422, 422, 422]
    assert sum("token" in data for _, data in answers) == 1


async def test_riders_racing_on_one_key_with_one_body_get_one_token(keyed):
    answers = await asyncio.gather(*[register(keyed, "/riders", PERSON, "same") for _ in range(4)])
    assert sorted(status for status, _ in answers) == [201, 409, 409, 409]
    assert len({data["id"] for _, data in answers}) == 1
    assert sum("token" in data for _, data in answers) == 1


async def test_a_key_expires_after_a_day_and_is_then_a_new_key(keyed, wall):
    _, first = await register(keyed, "/customers", PERSON, "daily", status=201)
    wall.advance(DAY_S - 1)
    await register(keyed, "/customers", PERSON, "daily", status=409)
    wall.advance(2)
    _, second = await register(keyed, "/customers", OTHER, "daily", status=201)
    assert second["id"] != first["id"] and second["token"] != first["token"]


async def test_expired_keys_are_purged_on_the_next_claim(keyed, wall):
    await register(keyed, "/customers", PERSON, "old-1", status=201)
    await register(keyed, "/riders", PERSON, "old-2", status=201)
    records = IdempotencyRecords(keyed.http.app[DB])
    assert records.count() == 2
    wall.advance(DAY_S + 1)
    await register(keyed, "/customers", PERSON, "fresh", status=201)
    assert records.count() == 1


async def test_an_order_key_still_replays_the_order_until_it_expires(keyed, wall):
    sid, _ = await keyed.store()
    _, customer = await register(keyed, "/customers", OTHER, "c2", status=201)
    _, first = await keyed.place(customer["token"], sid, headers={"Idempotency-Key": "o"}, status=201)
    r, again = await keyed.place(customer["token"], sid, headers={"Idempotency-Key": "o"}, status=201)
    assert again["id"] == first["id"] and r.headers["Idempotent-Replayed"] == "true"
    wall.advance(DAY_S + 1)
    _, later = await keyed.place(customer["token"], sid, headers={"Idempotency-Key": "o"}, status=201)
    assert later["id"] != first["id"]
