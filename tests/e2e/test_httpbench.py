"""`run.py httpbench` loads the reads with wrk where installed and says so, falls back to the
Python clients with a notice when wrk is missing, and prints each endpoint's ratio to the
hello-world measured beside it (issue 16)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from delivery.tools import callgrind
from tests.conftest import ROOT

pytestmark = [pytest.mark.sqlite_only, pytest.mark.timeout(180)]  # the load generator is tested
ENDPOINTS = ["GET /orders/{id}", "GET /riders/me/deliveries/available", "GET /stores?lat&lon",
             "POST /orders"]


def _httpbench(*args: str) -> tuple[str, dict[str, list[str]]]:
    done = subprocess.run([sys.executable, "run.py", "httpbench", "--clients", "2", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    rows = {name: line[len(name):].split() for line in lines for name in ENDPOINTS
            if line.startswith(name + " ")}
    return lines[0], rows


def _check(rows: dict[str, list[str]]) -> None:
    assert list(rows) == ENDPOINTS
    for name, (clients, rps, _p50, _p99, errors, hello, ratio) in rows.items():
        assert clients == "2" and float(rps) > 0 and float(hello) > 0
        assert float(ratio) == pytest.approx(float(rps) / float(hello), abs=0.011)
        if name.startswith("GET"):
            assert errors == "0", rows


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_with_wrk_installed_it_says_so_and_prints_every_ratio_to_hello_world():
    first, rows = _httpbench("--seconds", "1")
    assert first.startswith("load generator: wrk (") and shutil.which("wrk") in first
    _check(rows)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_with_rounds_it_prints_the_median_round_and_every_round_s_ratio():
    done = subprocess.run([sys.executable, "run.py", "httpbench", "--clients", "2", "--seconds",
                           "1", "--rounds", "3"], cwd=ROOT, capture_output=True, text=True,
                          timeout=170)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    rows = {name: (line[len(name):].split(), lines[i + 1]) for i, line in enumerate(lines)
            for name in ENDPOINTS if line.startswith(name + " ")}
    _check({name: row for name, (row, _) in rows.items()})
    for row, rounds in rows.values():
        assert rounds.strip().startswith("median of 3 rounds; each round's × hello:")
        ratios = sorted(float(x) for x in rounds.split(":")[1].split())
        assert len(ratios) == 3 and float(row[-1]) == pytest.approx(ratios[1], abs=0.006)


def test_rounds_below_one_are_refused():
    done = subprocess.run([sys.executable, "run.py", "httpbench", "--rounds", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--rounds must be at least 1" in done.stderr


def test_without_wrk_it_falls_back_to_python_clients_with_a_notice():
    first, rows = _httpbench("--seconds", "0.3", "--wrk", "/nonexistent/wrk")
    assert first.startswith("load generator: Python aiohttp clients ('/nonexistent/wrk' not found)")
    assert "install wrk" in first
    _check(rows)


@pytest.mark.skipif(not callgrind.available(), reason="valgrind is not installed (apt-get install valgrind)")
def test_instructions_per_request_are_counted_beside_the_hello_world():
    done = subprocess.run([sys.executable, "run.py", "httpbench", "--instructions", "16"],
                          cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("counting instructions with valgrind's callgrind (16 requests")
    rows = {name: line[len(name):].split() for line in lines
            for name in ["hello world (JSON)", *ENDPOINTS] if line.startswith(name + " ")}
    assert list(rows) == ["hello world (JSON)", *ENDPOINTS]
    hello = float(rows["hello world (JSON)"][0])
    for name, (k, hello_k, ratio) in rows.items():
        assert float(hello_k) == hello and float(ratio) == pytest.approx(hello / float(k), abs=0.006)
        # every endpoint does more than answer a constant, and placing an order far more
        assert name == "hello world (JSON)" or float(k) > hello
    assert float(rows["POST /orders"][0]) > 2 * float(rows["GET /orders/{id}"][0])
