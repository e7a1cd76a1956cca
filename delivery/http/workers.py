"""`python run.py serve --workers N`: N node processes on one host sharing the port.

Each worker is a whole node (`run.py serve` with its own actor system) listening with
SO_REUSEPORT on the same address, on a data directory of its own (DATA_DIR/node-<i>: its lock,
its logs, its secret) and, on multiprocTCPBase, an admin port of its own (actors.admin_port + i).
This parent holds DATA_DIR's lock and a reservation of the port for as long as it runs, forwards
SIGTERM and SIGINT to the workers, restarts one that dies, and exits when they have all stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..children import die_with_parent, ended
from ..config import Settings
from ..datadir import DataDirInUse, DataDirLock
from ..persistence.db import is_postgres
from ..persistence.faults import DataDirUnwritable, check_writable

log = logging.getLogger("delivery.workers")

RUN_PY = Path(__file__).resolve().parents[2] / "run.py"
NODE_DIR = "node-{}"
STOP_TIMEOUT_S = 30.0  # a worker still running this long after SIGTERM is killed
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 10.0  # restart delay of a worker that keeps dying
STABLE_AFTER_S = 30.0  # a worker up this long restarts at once if it dies


class WorkersRefused(RuntimeError):
    """`--workers N` cannot start as configured; the message is the one line to print."""


def refusal(workers: int, settings: Settings) -> str | None:
    """Why `--workers` cannot be used with these settings (None: it can)."""
    if workers < 1:
        return f"--workers must be at least 1, got {workers}"
    if workers > 1 and not is_postgres(settings.storage.url):
        return (f"--workers {workers} needs storage.url to be a PostgreSQL database (set "
                "DELIVERY_STORAGE_URL=postgresql://user@host:port/db); SQLite serves one node")
    return None


class Worker:
    """One node process: `run.py serve` on DATA_DIR/node-<i>, told to share the port."""

    def __init__(self, index: int, argv: list[str], env: dict[str, str]) -> None:
        self.index, self.argv, self.env = index, argv, env
        self.proc: subprocess.Popen | None = None
        self.ready_fd: int | None = None
        self.ready = False
        self.started_at = 0.0
        self.backoff_s = BACKOFF_MIN_S
        self.restart_at: float | None = None

    def start(self) -> None:
        read, write = os.pipe()
        try:
            self.proc = subprocess.Popen([*self.argv, "--ready-fd", str(write)], env=self.env,
                                         pass_fds=(write,), preexec_fn=die_with_parent)
        finally:
            os.close(write)
        self.ready_fd, self.ready, self.started_at = read, False, time.monotonic()
        self.restart_at = None

    def poll_ready(self) -> bool:
        """Whether the worker is serving (it writes a line on its ready pipe once it listens)."""
        if not self.ready and self.ready_fd is not None and \
                select.select([self.ready_fd], [], [], 0)[0]:
            self.ready = bool(os.read(self.ready_fd, 64))
            self._close_pipe()
        return self.ready

    def exited(self) -> int | None:
        """Its exit code once it has ended (negative: the signal that ended it)."""
        code = self.proc.poll() if self.proc else None
        if code is not None:
            self._close_pipe()
        return code

    def signal(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def _close_pipe(self) -> None:
        fd, self.ready_fd = self.ready_fd, None
        if fd is not None:
            os.close(fd)


def supervise(settings: Settings, workers: int, config_file: str | None, token: str,
              demo: bool) -> int:
    """Run `workers` nodes until SIGTERM or SIGINT; the exit code of the whole service."""
    server = settings.server
    data_dir = Path(server.data_dir)
    try:
        check_writable(data_dir)
        lock = DataDirLock(data_dir).acquire()
    except (DataDirUnwritable, DataDirInUse) as exc:
        raise WorkersRefused(str(exc)) from None
    try:
        with reserve_port(server.host, server.port) as port:
            pool = [Worker(i, _argv(server.host, port, data_dir / NODE_DIR.format(i), config_file),
                           _env(settings, i, port, token)) for i in range(workers)]
            return _run(pool, f"http://{server.host}:{port}", data_dir, token, demo)
    finally:
        lock.release()


@contextlib.contextmanager
def reserve_port(host: str, port: int):
    """Bind (without listening) host:port with SO_REUSEPORT for the workers to share: a port in
    use is refused here once, port 0 becomes one real port, and a restarted worker finds it free."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise WorkersRefused(f"cannot listen on {host}:{port}: "
                                 f"{os.strerror(exc.errno).lower() if exc.errno else exc}") from None
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _argv(host: str, port: int, node_dir: Path, config_file: str | None) -> list[str]:
    return [sys.executable, str(RUN_PY), "serve", "--host", host, "--port", str(port),
            "--data-dir", str(node_dir)] + (["--config", config_file] if config_file else [])


def _env(settings: Settings, index: int, port: int, token: str) -> dict[str, str]:
    """The worker's environment: the one admin token of the service, its own admin port (used
    on multiprocTCPBase only) and, where the cluster has node names, a name of its own."""
    env = {**os.environ, "DELIVERY_ADMIN_TOKEN": token,
           "DELIVERY_ACTORS_ADMIN_PORT": str(settings.actors.admin_port + index)}
    cluster = getattr(settings, "cluster", None)
    if cluster is not None:
        env["DELIVERY_CLUSTER_NODE_NAME"] = \
            f"{cluster.node_name or f'{settings.server.host}:{port}'}/{index}"
    return env


def _run(pool: list[Worker], url: str, data_dir: Path, token: str, demo: bool) -> int:
    stop: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _: stop.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for worker in pool:
            worker.start()
        if not _wait_ready(pool, stop):
            return _stop_all(pool, failed=True)
        print(f"delivery serving on {url} with {len(pool)} workers (data: "
              f"{data_dir / NODE_DIR.format('*')}); Ctrl-C or SIGTERM stops it", flush=True)
        if demo:
            import asyncio

            from .demo_data import seed

            asyncio.run(seed(url, token, data_dir))
        while not stop:
            _tend(pool)
            time.sleep(0.1)
        print("stopping: the workers finish their requests and stop", flush=True)
        return _stop_all(pool)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_ready(pool: list[Worker], stop: list[int]) -> bool:
    """Wait until every worker serves; False if one ended first (it said why) or a signal came."""
    while not stop:
        if any(w.exited() is not None for w in pool):
            return False
        if all(w.poll_ready() for w in pool):
            return True
        time.sleep(0.05)
    return False


def _tend(pool: list[Worker]) -> None:
    """Restart workers that died, after a backoff when they keep dying."""
    now = time.monotonic()
    for w in pool:
        if not w.ready and w.poll_ready():
            log.warning("worker %d serves again (pid %d)", w.index, w.proc.pid)
        if w.restart_at is not None:
            if now >= w.restart_at:
                w.start()
            continue
        code = w.exited()
        if code is None:
            continue
        if now - w.started_at >= STABLE_AFTER_S:
            w.backoff_s = BACKOFF_MIN_S
        delay, w.backoff_s = w.backoff_s, min(BACKOFF_MAX_S, w.backoff_s * 2)
        w.restart_at = now + delay
        log.warning("worker %d (pid %d) %s; restarting it in %.1f s", w.index, w.proc.pid,
                    ended(code), delay)


def _stop_all(pool: list[Worker], failed: bool = False) -> int:
    """SIGTERM every worker, wait for them (SIGKILL after STOP_TIMEOUT_S); 0 if all stopped
    cleanly, else 1. A worker still starting is let finish its start first: stopped halfway,
    it could leave actor processes behind."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while not failed and time.monotonic() < deadline and \
            any(w.exited() is None and not w.poll_ready() for w in pool):
        time.sleep(0.05)
    for w in pool:
        w.signal(signal.SIGTERM)
    codes = []
    for w in pool:
        if w.proc is None:
            continue
        try:
            codes.append(w.proc.wait(max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            log.warning("worker %d (pid %d) did not stop in %.0f s; killing it", w.index,
                        w.proc.pid, STOP_TIMEOUT_S)
            w.signal(signal.SIGKILL)
            codes.append(w.proc.wait())
        w.exited()
    if failed:
        return 1
    print("stopped", flush=True)
    return 0 if all(code == 0 for code in codes) else 1

