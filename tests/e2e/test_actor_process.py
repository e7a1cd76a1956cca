"""`actors.own_process`: the actors in a child process of their own, the front door in this one."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from delivery import codec
from delivery.actors.host import UNAVAILABLE, ActorProcess, register_settings
from delivery.actors.system import ActorRuntime, ActorSystemUnavailable, alive
from delivery.datadir import DataDirInUse, DataDirLock
from delivery.http.keys import RUNTIME
from delivery.loadtest.service import SERVICE_LOG, SpawnedService
from tests.conftest import ROOT, make_settings

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


# -- the child alone, driven over its socket as the front door drives it -------------------------

PUMP_DIES = """
import sys

from delivery.actors.host import child_main
from delivery.actors.system import ActorRuntime

end_turn = ActorRuntime._end_turn


def dying_end_turn(self, asys):
    if self._futures:  # the turn of the test's request: something escapes the pump
        raise RuntimeError("the pump dies (injected by the test)")
    return end_turn(self, asys)


ActorRuntime._end_turn = dying_end_turn
sys.exit(child_main(int(sys.argv[1]), int(sys.argv[2])))
"""
HEALTHY = "import sys; from delivery.actors.host import child_main; " \
          "sys.exit(child_main(int(sys.argv[1]), int(sys.argv[2])))"


class Child:
    """`python -c code FD PID`, as ActorProcess starts `-m delivery.actors.host`; stderr kept."""

    def __init__(self, code: str, settings, log_path) -> None:
        register_settings()
        self.sock, theirs = socket.socketpair()
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),), stderr=log, cwd=ROOT)
        theirs.close()
        self.sock.settimeout(30.0)
        self.stream = codec.stream()
        self.sock.sendall(codec.encode(settings))

    def frame(self) -> list | None:
        """The next frame; None at the end of the stream."""
        for frame in self.stream:
            return frame
        while data := self.sock.recv(1 << 16):
            self.stream.feed(data)
            for frame in self.stream:
                return frame
        return None

    def log(self) -> str:
        return self.log_path.read_text()

    def end(self) -> None:
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_an_actor_process_whose_pump_dies_says_so_and_exits(tmp_path):
    settings = make_settings(tmp_path / "data", **{"actors.own_process": True})
    child = Child(PUMP_DIES, settings, tmp_path / "child.log")
    try:
        assert child.frame()[1] == "ready"
        child.sock.sendall(codec.encode([1, "guardian", None]))
        # The request in the pump's hands when it died is answered, not left hanging...
        corr, outcome, reason = child.frame()[:3]
        assert (corr, outcome, reason) == (1, UNAVAILABLE, "actor system stopped")
        # ...and the process ends, not answering 503 forever behind a socket that looks alive:
        # the front door sees the end of the stream and starts a new one.
        assert child.proc.wait(15) != 0
        assert child.frame() is None
        assert "pump thread ended" in child.log()
        DataDirLock(tmp_path / "data").acquire().release()  # free for the next child
    finally:
        child.end()


def test_an_actor_process_told_to_stop_logs_no_error(tmp_path):
    settings = make_settings(tmp_path / "data", **{"actors.own_process": True})
    child = Child(HEALTHY, settings, tmp_path / "child.log")
    try:
        assert child.frame()[1] == "ready"
        child.sock.sendall(codec.encode([1, "nobody", None]))
        assert child.frame()[:2] == [1, 3]  # UNKNOWN: no actor of that name
        child.sock.shutdown(socket.SHUT_WR)  # the front door's close, as the child sees it
        assert child.proc.wait(15) == 0
        assert "ERROR" not in child.log()
    finally:
        child.end()
