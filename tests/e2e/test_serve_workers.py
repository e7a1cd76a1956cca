"""`run.py serve --workers N`: N nodes on one port, supervised by one parent that restarts a
worker that dies and stops them all on SIGTERM; more than one needs PostgreSQL and says so."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from delivery.loadtest.service import SERVICE_LOG, SpawnedService
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.timeout(120)


def children(pid: int) -> list[int]:
    """Live child processes of `pid`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue
        if int(ppid) == pid and state != "Z":
            found.append(int(name))
    return sorted(found)


@pytest.mark.sqlite_only
def test_more_than_one_worker_on_sqlite_is_refused_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DELIVERY_STORAGE_URL"}
    done = subprocess.run([sys.executable, "run.py", "serve", "--workers", "2", "--port",
                           str(free_port()), "--data-dir", str(tmp_path / "data")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "--workers 2 needs storage.url to be a PostgreSQL" \
        in done.stderr, done.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.postgres_only
async def test_workers_share_the_port_and_one_that_dies_is_restarted(tmp_path, storage):
    service = SpawnedService(tmp_path, "config/fast-tests.toml", workers=2)
    try:
        await service.start()
        workers = children(service.proc.pid)
        assert len(workers) == 2
        assert {p.name for p in Path(tmp_path).glob("node-*")} == {"node-0", "node-1"}
        # a connection per request: a pooled one to the worker about to be killed would break
        async with aiohttp.ClientSession(service.url,
                                         connector=aiohttp.TCPConnector(force_close=True)) as s:
            registered = await asyncio.gather(*(s.post("/customers", json={
                "name": f"K{i}", "phone": "010", "location": {"lat": 37.5, "lon": 127.0}})
                for i in range(20)))
            assert [r.status for r in registered] == [201] * 20
            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (
                    len(now := children(service.proc.pid)) < 2 or workers[0] in now):
                async with s.get("/ready") as r:  # the other worker serves meanwhile
                    assert r.status == 200
                await asyncio.sleep(0.1)
            assert len(now) == 2 and workers[0] not in now
        again = f"worker 0 serves again (pid {max(set(now) - set(workers))})"
        while time.monotonic() < deadline and again not in (tmp_path / SERVICE_LOG).read_text():
            await asyncio.sleep(0.1)
        log = (tmp_path / SERVICE_LOG).read_text()
        assert f"worker 0 (pid {workers[0]}) was killed by SIGKILL; restarting it" in log
        assert again in log
        assert service.stop() == 0  # SIGTERM reaches every worker; the parent waits for them
        assert all(not Path(f"/proc/{pid}").exists() for pid in now)
        assert (tmp_path / SERVICE_LOG).read_text().splitlines()[-1] == "stopped"
    finally:
        service.kill()
