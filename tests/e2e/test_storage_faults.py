"""A full disk over real HTTP: commands are refused at once with 503 storage_unavailable and
nothing of them is saved, /ready says why, every acknowledged order keeps its view, and the
service takes commands again by itself when space returns (a real 4 MiB tmpfs, filled)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from delivery.actors.projector import Projector
from delivery.http.app import create_app
from delivery.persistence.faults import HEALTH, StorageFault
from delivery.persistence.readmodel import ReadModel
from tests.conftest import make_settings
from tests.disk import fill, free, small_disk
from tests.e2e.conftest import ADMIN, Api

pytestmark = pytest.mark.sqlite_only  # a SQLite file's own behaviour; PostgreSQL: test_postgres_storage.py


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk") as path:
        yield path
        HEALTH.ok()  # the process-wide record must not leak into the next test


@pytest.fixture
async def api(aiohttp_client, disk):
    client = await aiohttp_client(create_app(make_settings(disk / "data"), ADMIN))
    return Api(client)


def journal(disk) -> list[tuple[str, int]]:
    conn = sqlite3.connect(disk / "data" / "delivery.sqlite3")
    try:
        return conn.execute("SELECT order_id, version FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


def orders_without_view(disk) -> set[str]:
    conn = sqlite3.connect(disk / "data" / "delivery.sqlite3")
    try:
        return {r[0] for r in conn.execute(
            "SELECT DISTINCT order_id FROM events WHERE order_id NOT IN"
            " (SELECT order_id FROM order_views)")}
    finally:
        conn.close()


async def timed(call):
    started = time.monotonic()
    response, body = await call
    return response, body, time.monotonic() - started


async def until_ready(api, seconds=5.0):
    deadline = time.monotonic() + seconds
    while True:
        r, body = await api.json("GET", "/ready")
        if r.status == 200 or time.monotonic() > deadline:
            return r, body
        await asyncio.sleep(0.2)


async def test_a_full_disk_refuses_commands_at_once_and_the_service_recovers_when_space_returns(
        api, disk):
    _, customer = await api.customer()
    store_id, store = await api.store()
    _, paid = await api.place(customer, store_id, status=201)
    await api.json("POST", f"/orders/{paid['id']}/payment", customer,
                   {"method": "card", "card_token": "tok_visa"}, status=200)
    saved = journal(disk)

    fill(disk)
    refused = await asyncio.gather(
        *(timed(api.place(customer, store_id)) for _ in range(4)),
        timed(api.json("POST", f"/stores/{store_id}/orders/{paid['id']}/accept", store)))
    for response, body, seconds in refused:
        assert (response.status, body["code"]) == (503, "storage_unavailable"), body
        assert int(response.headers["Retry-After"]) >= 1 and seconds < 1.0
    assert journal(disk) == saved  # no event of a refused command
    r, body = await api.json("GET", "/ready")
    assert (r.status, body["code"]) == (503, "storage_unavailable") and "full" in body["detail"]

    free(disk)
    r, _ = await until_ready(api)
    assert r.status == 200
    # The order actor forgot the accept that was never saved, so the same command now works.
    _, accepted = await api.json("POST", f"/stores/{store_id}/orders/{paid['id']}/accept", store,
                                 status=200)
    assert accepted["status"] == "accepted"
    versions = [v for oid, v in journal(disk) if oid == paid["id"]]
    assert versions == list(range(1, len(versions) + 1))
    placed = [(await api.place(customer, store_id, status=201))[1]["id"] for _ in range(3)]
    for order_id in [paid["id"], *placed]:
        await api.json("GET", f"/orders/{order_id}", customer, status=200)
    assert orders_without_view(disk) == set()


async def test_a_view_the_disk_refuses_is_written_later_and_the_answer_waits_for_it(
        api, disk, monkeypatch):
    _, customer = await api.customer()
    store_id, _ = await api.store()
    apply, refusals = ReadModel.apply, [0]

    def refuse_twice(self, records):
        # The journal's commit went through; only the read model's write meets the fault.
        if refusals[0] < 2:
            refusals[0] += 1
            raise StorageFault("write failed: database or disk is full")
        return apply(self, records)

    monkeypatch.setattr(ReadModel, "apply", refuse_twice)
    # The views go in the journal's own group commit where they can (a disk that refuses them
    # refuses the journal too: test above); this is the other path, projecting after the
    # commit (records another node appended, a view that could not join the group).
    monkeypatch.setattr(Projector, "_project_with_group", lambda self: None)
    started = time.monotonic()
    _, order = await api.place(customer, store_id, status=201)
    assert refusals[0] == 2 and time.monotonic() - started >= 0.1  # answered after the retries
    _, view = await api.json("GET", f"/orders/{order['id']}", customer, status=200)
    assert view["status"] == order["status"] == "placed"
    assert orders_without_view(disk) == set()
