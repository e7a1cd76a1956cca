"""Instructions per request, counted by valgrind's callgrind: `run.py httpbench --instructions N`.

On a shared or virtual machine requests per second move by ±30 % from one run to the next; the
instructions a server executes for a request do not (two runs agree within ~2 %). The service and
the hello-world run under callgrind with counting switched off; for each endpoint, after a warm-up,
counting is switched on around N requests (8 in flight at a time) and the total is read from the
dump. Every thread of the process is counted (the actor pump's idle polling too), nothing of the
kernel. Instructions are not time: a larger program misses the CPU's caches more, so the ratio of
requests per second to the hello-world's (wrk) is lower than the ratio of instructions.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import aiohttp

from .wrk import Target

NOTICE = "counting instructions with valgrind's callgrind ({n} requests an endpoint, 8 in flight)"
WARM_UP = 50


def wrap(command: list[str], out_dir: Path) -> list[str]:
    """`command` under callgrind, counting nothing until told to."""
    return [shutil.which("valgrind") or "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out_dir}/callgrind.%p", *command]


def available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


async def per_request(pid: int, out_dir: Path, target: Target, n: int) -> float:
    """Instructions the process `pid` executed per request of `target`, over `n` requests."""
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    kwargs = {"data": target.body, "headers": {**headers, "Content-Type": "application/json"}} \
        if target.body is not None else {"headers": headers}
    method = "POST" if target.body is not None else "GET"
    async with aiohttp.ClientSession() as s:
        async def one() -> None:
            async with s.request(method, target.url, **kwargs) as r:
                await r.read()
                if r.status >= 400:
                    raise RuntimeError(f"{method} {target.url} answered {r.status}")

        for _ in range(WARM_UP):
            await one()
        await _control("-z", pid)  # forget what the warm-up counted
        await _control("-i", "on", pid)
        sent = 0
        while sent < n:
            batch = min(8, n - sent)
            await asyncio.gather(*(one() for _ in range(batch)))
            sent += batch
        await _control("-i", "off", pid)
        await _control("-d", pid)
    dumps = sorted(out_dir.glob(f"callgrind.{pid}.*"), key=lambda p: int(p.suffix[1:]))
    totals = re.search(r"^totals:\s+(\d+)", dumps[-1].read_text(), re.M)
    return int(totals.group(1)) / n


async def _control(*args: object) -> None:
    proc = await asyncio.create_subprocess_exec("callgrind_control", *map(str, args),
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
    if await proc.wait() != 0:
        raise RuntimeError(f"callgrind_control {' '.join(map(str, args))} failed")
