"""The harness against many nodes: customers, stores and riders spread over several `--url`s,
and `--spawn --workers 2` on a PostgreSQL database of its own that it drops after the run."""

from __future__ import annotations

import json
import subprocess
import sys

import aiohttp
import psycopg
import pytest

from delivery.loadtest.database import PREFIX
from delivery.loadtest.service import ADMIN_TOKEN, SpawnedService
from tests import pgtest
from tests.conftest import ROOT

pytestmark = [pytest.mark.postgres_only, pytest.mark.timeout(180)]
SMALL = ["--config", "config/fast-tests.toml", "--concurrency", "4", "--duration", "3",
         "--stores", "4", "--customers", "8", "--riders", "4", "--quiet"]


def loadtest(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "run.py", "loadtest", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


async def messages(url: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/admin/api/stats", headers={
            "Authorization": f"Bearer {ADMIN_TOKEN}"}) as r:
        return (await r.json())["actor_messages"]


async def test_the_cast_is_spread_over_every_url(tmp_path, storage):
    nodes = [SpawnedService(tmp_path / f"n{i}", "config/fast-tests.toml") for i in range(2)]
    try:
        for i, node in enumerate(nodes):
            (tmp_path / f"n{i}").mkdir()
            await node.start()
        idle = [await messages(n.url) for n in nodes]
        loadtest(*[a for n in nodes for a in ("--url", n.url)], "--admin-token", ADMIN_TOKEN,
                 "--storage-url", storage, *SMALL, "--report", str(tmp_path / "r.json"))
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["errors"] == 0 and report["lifecycles"].get("completed", 0) >= 5
        worked = [await messages(n.url) - before for n, before in zip(nodes, idle, strict=True)]
        assert min(worked) > 100, worked  # both nodes ran lifecycles, not only the first
        spent = report["costs"]["per_lifecycle"]
        assert spent["actor_messages"] > 10 and spent["transactions"] > 1
    finally:
        for node in nodes:
            node.kill()


def test_spawn_with_two_workers_on_a_database_of_its_own_leaves_nothing_behind(tmp_path):
    loadtest("--spawn", "--workers", "2", "--storage-url", "auto", "--pg-server",
             pgtest.ADMIN_URL, *SMALL, "--report", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["errors"] == 0 and report["lifecycles"].get("completed", 0) >= 5
    assert report["costs"]["per_lifecycle"]["transactions"] > 1
    with psycopg.connect(pgtest.ADMIN_URL, autocommit=True) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                            (PREFIX + "%",)).fetchall()
    assert left == []


def test_more_than_one_worker_needs_postgresql(tmp_path, monkeypatch):
    monkeypatch.delenv("DELIVERY_STORAGE_URL")
    done = subprocess.run([sys.executable, "run.py", "loadtest", "--spawn", "--workers", "2",
                           *SMALL], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--workers 2 needs PostgreSQL" in done.stderr
