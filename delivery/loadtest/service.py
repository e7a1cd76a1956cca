"""The service a load test spawns: `run.py serve` as a child process the harness owns, so that
it can SIGKILL it and start it again on the same data directory and port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..actors.system import PID_FILE, children, kill_session
from ..tools.localhost import ROOT, restartable_port, wait_up

ADMIN_TOKEN = "loadtest-admin-token-0123456"
SERVICE_LOG = "loadtest-service.log"


class SpawnedService:
    """`run.py serve` on free loopback ports, in its own session so a kill reaches all of it."""

    def __init__(self, data_dir: Path, config: str | None = None, base: str | None = None,
                 cpus: tuple[int, ...] | set[int] | None = None, workers: int = 1,
                 storage_url: str | None = None) -> None:
        self.data_dir, self.port, self.token = Path(data_dir), restartable_port(), ADMIN_TOKEN
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DELIVERY_ADMIN_TOKEN": self.token,
                    "DELIVERY_ACTORS_ADMIN_PORT": str(restartable_port())}
        if base:
            self.env["DELIVERY_ACTORS_BASE"] = base
        if storage_url is not None:  # else the storage of this process's environment
            self.env["DELIVERY_STORAGE_URL"] = storage_url
        # Pinned (taskset) when the harness should not take the service's cores: every thread
        # and process of the service inherits the set.
        pin = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []
        self.cmd = [*pin, sys.executable, "run.py", "serve", "--port", str(self.port),
                    "--data-dir", str(self.data_dir)] + (["--config", config] if config else []) + \
            (["--workers", str(workers)] if workers > 1 else [])
        self.proc: subprocess.Popen | None = None
        self.workers = workers

    async def start(self, timeout: float = 60.0) -> float:
        """Start it and wait until it is ready; returns the seconds that took."""
        started = time.monotonic()
        # What the service prints goes to a log beside its data: a start that fails says why.
        with open(self.data_dir / SERVICE_LOG, "ab") as log:
            written = log.tell()  # the log is kept across restarts: only what follows is new
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        await wait_up(f"{self.url}/ready", timeout, self.proc)
        if self.workers > 1:  # one worker answering is not all: the parent says when all serve
            # ("delivery serving on URL with N workers": each worker prints a line of its own)
            await self._wait_for_line(f" with {self.workers} workers", written, started + timeout)
        return time.monotonic() - started

    async def _wait_for_line(self, text: str, offset: int, deadline: float) -> None:
        log = self.data_dir / SERVICE_LOG
        while text.encode() not in log.read_bytes()[offset:]:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the service exited ({self.proc.returncode}) before "
                                   f"printing {text!r}; see {log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the service did not print {text!r} in time; see {log}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL every process of the service, as a power cut would stop them."""
        if self.proc is None or self.proc.poll() is not None:
            return
        admin_sid = self._admin_session()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if admin_sid:  # multiprocTCPBase: the actor admin lives in a session of its own
            kill_session(admin_sid)

    def actor_process(self) -> int | None:
        """The pid of the service's actor process (actors.own_process), if it has one."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        for pid in children(self.proc.pid):
            with contextlib.suppress(OSError):
                if b"delivery.actors.host" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
        return None

    async def kill_actors(self, timeout: float = 60.0) -> bool:
        """SIGKILL the actor process alone and wait until the front door has started another
        and is ready again; False when the service has no actor process of its own."""
        killed = self.actor_process()
        if killed is None:
            return False
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        # Until the front door has seen it die, /ready may still say 200: wait for the new one.
        while self.actor_process() in (killed, None):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the front door did not start its actor process again")
            await asyncio.sleep(0.05)
        await wait_up(f"{self.url}/ready", max(1.0, deadline - time.monotonic()), self.proc)
        return True

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not stop); the exit code of a clean stop."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def pause(self) -> None:
        """SIGSTOP every process of the service: it keeps its sockets and database sessions
        but does nothing (a long GC pause, a frozen VM)."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGCONT)

    def _admin_session(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.data_dir / PID_FILE).read_text().strip())
        return None
