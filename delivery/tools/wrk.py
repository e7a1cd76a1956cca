"""Load generators of `run.py httpbench`: wrk (a C client, not the bottleneck) where installed,
else closed-loop aiohttp clients in this process (which are: the notice says so)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

FALLBACK_NOTICE = ("load generator: Python aiohttp clients ({why}); they are themselves the "
                   "bottleneck, so every ratio to hello-world is understated: install wrk "
                   "(apt-get install wrk) for figures worth comparing")


@dataclass(frozen=True)
class Target:
    """One endpoint to load."""

    name: str
    """As printed."""
    url: str
    """Absolute URL."""
    token: str | None = None
    """Bearer token sent with every request, if any."""
    body: str | None = None
    """JSON body: the request is a POST."""


@dataclass(frozen=True)
class Result:
    """What one measurement gave."""

    rps: float
    """Requests answered per second."""
    p50_ms: float
    """Median latency."""
    p99_ms: float
    """99th percentile latency."""
    errors: int
    """Answers of 400 and above, and socket errors."""


def find_wrk(name: str) -> str | None:
    """The path of the wrk executable `name` (a path or a name on PATH), None if absent."""
    return shutil.which(name)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(text: str) -> Result:
    """The figures of `wrk --latency`'s report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50, p99 = (_ms(re.search(rf"^\s+{q}%\s+(\S+)", text, re.M).group(1)) for q in ("50", "99"))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(n) for n in sockets.groups()) if sockets else 0)
    return Result(rps, p50, p99, errors)


def _lua(target: Target) -> str:
    """wrk's script of a target: method, body and headers (a literal Lua string each)."""
    lines = [f"wrk.headers[{_quote('Authorization')}] = {_quote('Bearer ' + target.token)}"
             ] if target.token else []
    if target.body is not None:
        lines += ['wrk.method = "POST"', f"wrk.body = {_quote(target.body)}",
                  f"wrk.headers[{_quote('Content-Type')}] = {_quote('application/json')}"]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(wrk: str, target: Target, clients: int, seconds: float) -> Result:
    """One wrk run of `seconds` with `clients` connections on one thread."""
    with tempfile.TemporaryDirectory(prefix="httpbench-wrk-") as tmp:
        script = Path(tmp) / "target.lua"
        script.write_text(_lua(target))
        out = subprocess.run([wrk, "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s",
                              "--latency", "-s", str(script), target.url],
                             capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(out.stdout)


async def run_python(target: Target, clients: int, seconds: float) -> Result:
    """Closed-loop aiohttp clients in this process for `seconds`."""
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    if target.body is not None:
        headers["Content-Type"] = "application/json"
    stop_at = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                async with session.request("POST" if target.body else "GET", target.url,
                                           data=target.body, headers=headers) as r:
                    await r.read()
                latencies.append(time.perf_counter() - started)
                errors += r.status >= 400
        began = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(clients)])
        elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return Result(len(latencies) / elapsed, pick(0.50), pick(0.99), errors)
