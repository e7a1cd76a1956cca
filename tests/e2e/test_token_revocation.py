"""The front door remembers who holds a token (issue 16), yet a suspended rider and a revoked
token are refused at the next request, and a rider's move counts at its next list, with the
cache warm: in one node on both storage adapters, and over `serve --workers 2` on PostgreSQL,
whichever worker answers."""

from __future__ import annotations

import aiohttp
import pytest

from delivery.actors.host import ActorProcess
from delivery.http.keys import RUNTIME
from delivery.loadtest.service import SpawnedService
from delivery.persistence.db import Database
from delivery.persistence.directory import Directory
from tests.conftest import db_url

from .conftest import ADMIN, FAR, HOME, NEAR, make_api
from .test_errors_and_access import problem

WARM = 5


def _revoke(url, kind: str, id: str) -> None:
    """Revoke as another node would: on a connection of its own."""
    db = Database(url)
    try:
        assert Directory(db).revoke_token(kind, id)
    finally:
        db.close()


async def test_a_suspended_rider_and_a_revoked_token_are_refused_at_the_next_request(
        aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path)
    (cid, ct), (sid, st), (rid, rt) = await api.customer(), await api.store(), await api.rider()
    oid = await api.cooked(ct, sid, st)
    for _ in range(WARM):
        await api.json("GET", "/riders/me/deliveries/available", rt, status=200)
        await api.json("GET", f"/orders/{oid}", ct, status=200)
    await api.json("POST", f"/admin/api/riders/{rid}/suspend", ADMIN, status=200)
    _, data = await api.json("GET", "/riders/me/deliveries/available", rt)
    problem(data, "not_approved", 403)
    await api.json("GET", f"/orders/{oid}", ct, status=200)  # others are not affected
    _revoke(db_url(tmp_path / "data"), "customers", cid)
    _, data = await api.json("GET", f"/orders/{oid}", ct)
    problem(data, "unauthorized", 401)


async def test_a_rider_s_move_written_by_the_actor_process_shows_in_its_next_list(
        aiohttp_client, tmp_path):
    """The rider's location comes with its token, remembered by the front door: the actor
    process that writes a move marks it, so the very next list is the new place's."""
    api = await make_api(aiohttp_client, tmp_path, **{"actors.own_process": True})
    assert isinstance(api.http.app[RUNTIME], ActorProcess)  # the move is another process's write
    (_, ct), (sid, st), (_, rt) = await api.customer(), await api.store(), await api.rider()
    oid = await api.cooked(ct, sid, st)
    for _ in range(WARM):
        _, listed = await api.json("GET", "/riders/me/deliveries/available", rt, status=200)
        assert [d["order_id"] for d in listed["deliveries"]] == [oid]
    await api.json("PUT", "/riders/me/location", rt, FAR, status=200)
    _, listed = await api.json("GET", "/riders/me/deliveries/available", rt, status=200)
    assert listed["deliveries"] == []
    await api.json("PUT", "/riders/me/location", rt, NEAR, status=200)
    _, listed = await api.json("GET", "/riders/me/deliveries/available", rt, status=200)
    assert [d["order_id"] for d in listed["deliveries"]] == [oid]


async def _statuses(s: aiohttp.ClientSession, path: str, token: str, n: int = 16) -> list[int]:
    statuses = []
    for _ in range(n):  # a connection each (force_close): the kernel spreads them over workers
        async with s.get(path, headers={"Authorization": f"Bearer {token}"}) as r:
            statuses.append(r.status)
    return statuses


async def _post(s: aiohttp.ClientSession, path: str, body: dict | None = None,
                token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with s.post(path, json=body, headers=headers) as r:
        assert r.status in (200, 201), await r.text()
        return await r.json()


@pytest.mark.postgres_only
@pytest.mark.timeout(120)
async def test_over_two_workers_a_suspension_and_a_revocation_reach_every_worker_at_once(
        tmp_path, storage):
    service = SpawnedService(tmp_path, "config/fast-tests.toml", workers=2)
    try:
        await service.start()
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(service.url, connector=connector) as s:
            where = {"lat": HOME["lat"], "lon": HOME["lon"]}
            customer = await _post(s, "/customers", {"name": "K", "phone": "0", "location": where})
            rider = await _post(s, "/riders", {"name": "L", "phone": "0", "location": where})
            available, mine = "/riders/me/deliveries/available", "/customers/me/orders"
            assert await _statuses(s, available, rider["token"]) == [200] * 16
            assert await _statuses(s, mine, customer["token"]) == [200] * 16
            await _post(s, f"/admin/api/riders/{rider['id']}/suspend", token=service.token)
            assert await _statuses(s, available, rider["token"]) == [403] * 16
            _revoke(storage, "customers", customer["id"])
            assert await _statuses(s, mine, customer["token"]) == [401] * 16
        assert service.stop() == 0
    finally:
        service.kill()
