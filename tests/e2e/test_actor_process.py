"""`actors.own_process`: the actors in a child process of their own, the front door in this one."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import pytest

from delivery.actors.host import ActorProcess
from delivery.actors.system import ActorRuntime, ActorSystemUnavailable, alive
from delivery.datadir import DataDirInUse
from delivery.http.keys import RUNTIME
from delivery.loadtest.service import SERVICE_LOG, SpawnedService
from tests.conftest import make_settings

from .conftest import make_api

PAY = {"method": "card", "card_token": "tok_visa"}


async def gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return not alive(pid)


async def ready(api, within_s: float = 30.0) -> int:
    deadline = time.monotonic() + within_s
    while True:
        r, _ = await api.json("GET", "/ready")
        if r.status == 200 or time.monotonic() > deadline:
            return r.status
        await asyncio.sleep(0.1)


@pytest.fixture
async def apart(aiohttp_client, tmp_path):
    return await make_api(aiohttp_client, tmp_path, **{"actors.own_process": True})


async def test_a_whole_lifecycle_runs_in_the_actor_process_with_read_your_writes(apart):
    runtime = apart.http.app[RUNTIME]
    assert isinstance(runtime, ActorProcess) and runtime.pid != os.getpid() and alive(runtime.pid)
    (_, ct), (sid, st), (rid, rt) = (await apart.customer(), await apart.store(),
                                     await apart.rider())
    _, order = await apart.place(ct, sid, status=201)
    oid = order["id"]
    steps = [(f"/orders/{oid}/payment", ct, PAY, "paid"),
             (f"/stores/{sid}/orders/{oid}/accept", st, None, "accepted"),
             (f"/stores/{sid}/orders/{oid}/start-cooking", st, None, "cooking"),
             (f"/stores/{sid}/orders/{oid}/finish-cooking", st, None, "cooked"),
             (f"/deliveries/{oid}/pick", rt, None, "picked_up"),
             (f"/orders/{oid}/confirm-delivery", ct, None, "completed")]
    for path, token, body, status in steps:
        _, view = await apart.json("POST", path, token, body, status=200)
        assert view["status"] == status
        _, read = await apart.json("GET", f"/orders/{oid}", ct, status=200)
        assert (read["status"], read["version"]) == (status, view["version"])
    assert read["rider_id"] == rid
    # A refusal crosses the process boundary as the same problem document.
    r, problem = await apart.json("POST", f"/orders/{oid}/cancel", ct, status=409)
    assert problem["status"] == 409 and problem["title"]
    # What the front door's admission control and console read comes across too.
    queued, _ = runtime.queue_time.take()
    assert queued >= 8
    assert runtime.messages_received() > 8 * 4


async def test_the_actor_process_stops_with_the_front_door(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path, **{"actors.own_process": True})
    pid = api.http.app[RUNTIME].pid
    await api.http.close()
    assert await gone(pid, within_s=5.0)
    # The data directory is free again: a new service takes it.
    again = await make_api(aiohttp_client, tmp_path, **{"actors.own_process": True})
    assert await ready(again) == 200


async def test_a_killed_actor_process_is_started_again_and_loses_nothing_acknowledged(apart):
    runtime = apart.http.app[RUNTIME]
    (_, ct), (sid, st) = await apart.customer(), await apart.store()
    _, order = await apart.place(ct, sid, status=201)
    oid = order["id"]
    await apart.json("POST", f"/orders/{oid}/payment", ct, PAY, status=200)
    first = runtime.pid

    os.kill(first, signal.SIGKILL)
    assert await gone(first, within_s=5.0)
    r, problem = await apart.json("POST", f"/stores/{sid}/orders/{oid}/accept", st)
    assert r.status == 503 and problem["status"] == 503  # refused, not hung, not a 500

    assert await ready(apart) == 200
    assert runtime.pid != first and alive(runtime.pid)
    _, view = await apart.json("GET", f"/orders/{oid}", ct, status=200)
    assert view["status"] == "paid"  # acknowledged before the kill: kept
    _, view = await apart.json("POST", f"/stores/{sid}/orders/{oid}/accept", st, status=200)
    assert view["status"] == "accepted"


async def test_a_data_directory_in_use_refuses_the_second_start(apart, tmp_path):
    second = ActorProcess(make_settings(tmp_path / "data", **{"actors.own_process": True}))
    with pytest.raises(DataDirInUse, match="in use by another running service"):
        await second.open()
    assert second.pid is not None and await gone(second.pid, within_s=5.0)
    assert await ready(apart) == 200  # the first is untouched


async def test_an_actor_process_that_cannot_start_says_why(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "delivery.sqlite3").write_text("not a database")
    settings = make_settings(tmp_path / "data", **{"actors.own_process": True,
                                                   "storage.url": ""})
    runtime = ActorProcess(settings)
    with pytest.raises(ActorSystemUnavailable, match="actor system failed to start"):
        await runtime.open()
    assert not runtime.running
    with pytest.raises(ActorSystemUnavailable):
        await runtime.ask("orders", None)


@pytest.mark.sqlite_only  # which runtime the settings choose does not depend on the storage
def test_multiproc_base_runs_actors_apart_already_so_own_process_changes_nothing(tmp_path):
    settings = make_settings(tmp_path, "multiprocTCPBase", **{"actors.own_process": True})
    assert not settings.actors.apart
    assert make_settings(tmp_path, **{"actors.own_process": True}).actors.apart
    assert not make_settings(tmp_path, **{"actors.own_process": False}).actors.apart
    assert isinstance(ActorRuntime(make_settings(tmp_path)), ActorRuntime)


@pytest.mark.timeout(120)
async def test_a_front_door_killed_by_sigkill_takes_its_actor_process_with_it(tmp_path):
    service = SpawnedService(tmp_path / "svc")
    service.env["DELIVERY_ACTORS_OWN_PROCESS"] = "true"
    (tmp_path / "svc").mkdir()
    try:
        await service.start()
        log = (tmp_path / "svc" / SERVICE_LOG).read_text()
        child = int(re.search(r"actors: simpleSystemBase in process (\d+)", log).group(1))
        assert alive(child)
        os.kill(service.proc.pid, signal.SIGKILL)  # the front door alone, not its group
        service.proc.wait(10)
        assert await gone(child, within_s=10.0)
        await service.start()  # the data directory is free: the next start takes it
    finally:
        service.kill()
