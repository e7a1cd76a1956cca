"""Helpers of the benchmarks and the load test for services they start on this machine."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def restartable_port() -> int:
    """A free loopback port below the ephemeral range, for a service that is killed and started
    again on the same port: while it is down, no client socket can be given that port as its own
    (a client connecting to a port nobody listens on may even connect to itself)."""
    rng, low = random.Random(), _ephemeral_low()
    for _ in range(200):
        port = rng.randrange(20000, min(low, 32768))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _ephemeral_low() -> int:
    """The first port of the range the kernel hands to client sockets."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


async def wait_up(url: str, timeout: float = 30.0, proc=None) -> None:
    """Wait until GET url answers 200 (and the process, if given, is still running)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                break
            try:
                async with s.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")
