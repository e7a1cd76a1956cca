"""Starting, talking to and stopping the actor system.

One thread owns the ActorSystem handle (Thespian's handle is not thread-safe, and on
simpleSystemBase every actor runs inside the calls made on it). Other threads hand it requests
through a queue and get concurrent.futures.Future objects back, resolved by correlation id.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..config import RuntimeFacts, Settings
from ..datadir import DataDirLock
from ..logs import log_defs
from ..persistence.db import database_path, groups_started, is_postgres
from . import loopback, offload, unpickler
from .base import RECEIVED
from .messages import ActorStats, Batch, Boot, Booted, Envelope, FlushGroup, GetStats, Reply
from .queuetime import QueueTime

log = logging.getLogger("delivery.system")

PID_FILE = "actors.pid"
_STOP, _TELL = object(), object()


class ActorSystemUnavailable(RuntimeError):
    """The actor system is not running or did not answer in time."""


class ActorFailure(RuntimeError):
    """An actor failed on the request (Thespian returned it as a PoisonMessage)."""


IDLE_WAIT_MAX_S = 0.05
"""simpleSystemBase: the longest the pump thread waits for a request while idle (its timers fire
at most this late)."""


class ActorRuntime:
    """The service's actor system: start, request/reply by correlation id, stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.actors.base
        self.data_dir = Path(settings.server.data_dir)
        self.db_path = database_of(settings)
        self.runtime_id = uuid.uuid4().hex
        self.facts = RuntimeFacts(self.db_path, self.runtime_id)
        self.reply_timeout = settings.actors.reply_timeout_s
        self._requests: queue.Queue = queue.Queue()
        self._futures: dict[str, Future] = {}
        self._deadlines: list[tuple[float, str]] = []
        self._corr = itertools.count(1)
        self._booted = threading.Event()
        self._boot_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = DataDirLock(self.data_dir)
        self.peers = None
        self.admin_sid: int | None = None
        self.sent = self.received = 0
        self._groups_seen = 0  # group commits started when the pump last ended a turn
        self.queue_time = QueueTime()
        self.cluster = None  # this node's ClusterNode on PostgreSQL (leases, wake-ups)
        self.node_name = ""

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> ActorRuntime:
        """Start the actor system and its root; returns once it answers.

        The data directory is locked first (DataDirInUse if another live service holds it), so
        nothing of a second service ever touches the journal.
        """
        self._lock.acquire()
        self._thread = threading.Thread(target=self._run, name="actor-pump", daemon=True)
        self._thread.start()
        if not self._booted.wait(timeout):
            raise ActorSystemUnavailable("actor system did not start in time")
        if self._boot_error is not None:
            self._lock.release()  # the pump thread has ended: nothing holds the directory
            raise ActorSystemUnavailable(f"actor system failed to start: {self._boot_error}")
        self._join_cluster()
        return self

    def _join_cluster(self) -> None:
        """On PostgreSQL, this node's leases and wake-ups (a thread of their own); on SQLite the
        one node holds every lease from the start and is only written down."""
        from ..cluster.node import ClusterNode, node_name

        if is_postgres(self.db_path):
            self.cluster = ClusterNode(self.settings, self.db_path, self.tell).start()
            self.node_name = self.cluster.name
        else:
            self.node_name = node_name(self.settings)
            register_alone(self.db_path, self.node_name, self.settings.cluster.store_partitions)

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the actor system down; on multiprocTCPBase every actor process exits."""
        if self._thread is None:
            return
        if self.cluster is not None:
            self.cluster.stop()  # the leases are free for the other nodes before we stop
            self.cluster = None
        self._requests.put(_STOP)
        self._thread.join(timeout)
        self._thread = None
        self._lock.release()

    async def open(self) -> None:
        """start() without blocking the event loop (the front door's way in)."""
        await asyncio.get_running_loop().run_in_executor(None, self.start)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    def wake_on_commit(self, wake: Callable[[], None]) -> None:
        """Call `wake` (from another thread) when another node commits (PostgreSQL only)."""
        if self.cluster is not None:
            self.cluster.on_commit.append(wake)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._booted.is_set() \
            and self._boot_error is None

    def wait_pump(self, timeout: float | None = None) -> bool:
        """Wait for the pump thread to end, on stop() or because something escaped it; whether
        it has (a process whose actors are gone for good must notice, see host.py)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def __enter__(self) -> ActorRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests ----------------------------------------------------------------------------------
    def request(self, target: str, body: Any, timeout: float | None = None) -> Future:
        """Send `body` to the well-known actor `target` (orders, stores, riders, guardian, ...)."""
        future: Future = Future()
        if not self.running:
            future.set_exception(ActorSystemUnavailable("actor system is not running"))
            return future
        self._requests.put((target, body, timeout or self.reply_timeout, future, time.monotonic()))
        return future

    async def ask(self, target: str, body: Any) -> Reply:
        """The reply, awaited on the event loop (the bridge's way in)."""
        return await asyncio.wrap_future(self.request(target, body))

    def tell(self, target: str, body: Any) -> None:
        """Hand `body` to the well-known actor `target` from any thread; no reply."""
        address = getattr(self.peers, target, None)
        if self.running and address is not None:
            self._requests.put((_TELL, address, body))

    def call(self, target: str, body: Any, timeout: float | None = None) -> Reply:
        """Blocking request; raises ActorSystemUnavailable when no reply comes in time."""
        wait = (timeout or self.reply_timeout) + 1.0
        return self.request(target, body, timeout).result(wait)

    def stats(self) -> ActorStats:
        """Every live actor, messages handled (retired entities included), live entities."""
        return self.call("guardian", GetStats()).result

    def messages_total(self) -> int:
        """Messages received by all actors so far, those of passivated entities included."""
        stats = self.stats()
        return sum(a.messages_in for a in stats.actors) + stats.retired_messages

    def messages_received(self) -> int | None:
        """The same count without asking every actor (a message to each, every time): kept by
        this process where the actors run in it; None on a multi-process base."""
        return RECEIVED.n if self.settings.actors.in_process else None

    # -- the pump thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asys = self._start_system()
        except BaseException as exc:  # reported to start(), which raises it
            self._boot_error = exc
            self._booted.set()
            return
        try:
            self._pump(asys)
        finally:
            self._shutdown(asys)

    def _start_system(self):
        from thespian.actors import ActorSystem

        from .guardian import Guardian

        if self.base == "multiprocTCPBase":
            loopback.bind_to(self.settings.actors.bind_address)
            unpickler.install()  # before the admin is forked: every actor process inherits it
            self._clear_stale_admin()
            asys = ActorSystem(self.base, {"Admin Port": self.settings.actors.admin_port},
                               logDefs=log_defs(self.settings.logging), transientUnique=True)
        else:
            asys = ActorSystem(self.base, logDefs=log_defs(self.settings.logging), transientUnique=True)
            # Actors that must wait on the outside world do it in a pool and report back here.
            offload.install(self.runtime_id, lambda to, msg: self._requests.put((_TELL, to, msg)))
        try:
            guardian = asys.createActor(Guardian)
            reply = asys.ask(guardian, Envelope("boot", Boot(self.settings, self.facts)), 30)
            if not isinstance(reply, Reply) or not isinstance(reply.result, Booted):
                raise ActorSystemUnavailable(f"guardian did not boot: {_why(reply)}")
        except BaseException:
            asys.shutdown()
            raise
        self.peers = reply.result.peers
        if self.base == "multiprocTCPBase":
            self.admin_sid = reply.result.sid
            (self.data_dir / PID_FILE).write_text(str(self.admin_sid))
        self._booted.set()
        return asys

    def _pump(self, asys) -> None:
        # simpleSystemBase runs the actors inside tell/listen and returns at once when idle, so
        # the thread waits on its queue; the multi-process bases wait inside listen instead.
        # On simpleSystemBase timers fire only inside tell/listen: a positive listen time makes
        # the due ones fire even when no request comes in.
        # While idle, the wait for a request doubles up to IDLE_WAIT_MAX_S (a request still
        # wakes the thread at once; only the system's timers fire up to that much later), so an
        # idle or read-only node does not spend a slice of a core polling its actors.
        base_wait, listen_wait = (0.005, 0.001) if self.settings.actors.in_process else (0.0, 0.002)
        idle_wait = base_wait
        while True:
            try:
                first = self._requests.get(timeout=idle_wait) if idle_wait else \
                    self._requests.get_nowait()
            except queue.Empty:
                first = None
            batch = [first] if first is not None else []
            with contextlib.suppress(queue.Empty):
                while len(batch) < 256:
                    batch.append(self._requests.get_nowait())
            requests = []
            for item in batch:
                if item is _STOP:
                    return
                if item[0] is _TELL:
                    asys.tell(item[1], item[2])
                else:
                    requests.append(self._envelope(*item))
            self._send(asys, [r for r in requests if r is not None])
            self._end_turn(asys)
            answered = self._drain(asys, listen_wait)
            if self._end_turn(asys):  # a timer that fired while listening wrote to the journal
                answered = self._drain(asys, 0.0) or answered
            self._expire()
            if base_wait:
                idle_wait = base_wait if batch or answered else min(IDLE_WAIT_MAX_S, idle_wait * 2)

    def _end_turn(self, asys) -> bool:
        """simpleSystemBase: once every actor is idle, have the projector commit the journal's
        group if one was started in this turn: all of the turn's commands in one commit (and one
        fsync), whatever number of hops each took; their answers go out when it is on disk and
        projected. (A write of another kind may have committed it earlier: answered then too.)"""
        started = groups_started()
        if not self.settings.actors.in_process or started == self._groups_seen:
            return False
        self._groups_seen = started
        asys.tell(self.peers.projector, FlushGroup())
        return True

    def _envelope(self, target: str, body: Any, timeout: float, future: Future,
                  enqueued: float) -> tuple[str, Envelope] | None:
        self.queue_time.record(time.monotonic() - enqueued)  # admission control's signal
        if getattr(self.peers, target, None) is None:
            future.set_exception(ValueError(f"no actor named {target!r}"))
            return None
        corr = f"r{next(self._corr)}"
        self._futures[corr] = future
        heapq.heappush(self._deadlines, (time.monotonic() + timeout, corr))
        self.sent += 1
        return target, Envelope(corr, body)

    def _send(self, asys, requests: list[tuple[str, Envelope]]) -> None:
        # On simpleSystemBase a tell runs every actor to quiescence before it returns: handing the
        # requests in as one batch queues them all first, so their journal writes share a commit.
        if len(requests) > 1 and self.base == "simpleSystemBase":
            asys.tell(self.peers.guardian, Batch(tuple(requests)))
            return
        for target, envelope in requests:
            asys.tell(getattr(self.peers, target), envelope)

    def _drain(self, asys, wait: float) -> bool:
        """Hand out what the actors answered; whether there was anything."""
        from thespian.actors import PoisonMessage

        answered = False
        while True:
            message = asys.listen(wait)
            if message is None:
                return answered
            wait, answered = 0.0, True
            if isinstance(message, Reply):
                if not isinstance(message.result, ActorStats):
                    self.received += 1  # replies to looking at the system are not counted
                self._resolve(message.corr, result=message)
            elif isinstance(message, PoisonMessage) and isinstance(message.poisonMessage, Envelope):
                self._resolve(message.poisonMessage.corr,
                              error=ActorFailure(f"an actor failed on {type(message.poisonMessage.body).__name__}"))

    def _resolve(self, corr: str, result: Any = None, error: BaseException | None = None) -> None:
        future = self._futures.pop(corr, None)
        if future is None or future.done():
            return  # answered after its deadline
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, corr = heapq.heappop(self._deadlines)
            self._resolve(corr, error=ActorSystemUnavailable("no reply from the actor system in time"))

    def _shutdown(self, asys) -> None:
        offload.uninstall(self.runtime_id)
        for corr in list(self._futures):
            self._resolve(corr, error=ActorSystemUnavailable("actor system stopped"))
        try:
            asys.shutdown()
        finally:
            if self.base == "multiprocTCPBase":
                (self.data_dir / PID_FILE).unlink(missing_ok=True)
                if self.admin_sid:
                    kill_session(self.admin_sid, wait=5.0)  # stragglers that ignored shutdown

    # -- stale admins (multiprocTCPBase) ----------------------------------------------------------------
    def _clear_stale_admin(self) -> None:
        """Kill the process tree of an admin left behind by a crashed run on this data directory.

        The admin daemonizes (setsid), so it and every actor process share a session whose id
        is the admin's pid; that id is kept in the data directory while the system runs.
        """
        pid_file = self.data_dir / PID_FILE
        if pid_file.exists():
            with contextlib.suppress(ValueError):
                kill_session(int(pid_file.read_text().strip()), wait=5.0)
            pid_file.unlink(missing_ok=True)
        port = self.settings.actors.admin_port
        if port_in_use(self.settings.actors.bind_address, port):
            raise ActorSystemUnavailable(
                f"actors.admin_port {port} is in use by another process; stop it or choose another port")


def _why(reply: Any) -> str:
    """What the operator reads of a boot that failed: the exception that failed the guardian
    (the last line of the traceback Thespian keeps with the message it returns), not its repr."""
    from thespian.actors import PoisonMessage

    if reply is None:
        return "no answer in time"
    if isinstance(reply, PoisonMessage) and reply.details:
        return str(reply.details).strip().splitlines()[-1]
    return repr(reply)


def database_of(settings: Settings) -> str:
    """The database the actors journal in: storage.url, or the SQLite file in the data directory."""
    return settings.storage.url or str(database_path(Path(settings.server.data_dir)))


def register_alone(db_path: str, name: str, partitions: int) -> None:
    """Write the one node of a SQLite database in the table of nodes, holding every lease."""
    from .. import clock
    from ..cluster.leases import all_leases
    from ..persistence import nodes
    from ..persistence.db import Database

    db = Database(db_path)
    try:
        with db.transaction() as conn:
            nodes.register(conn, db.dialect, name, 0, os.getpid(), clock.now())
            nodes.heartbeat(conn, db.dialect, name, frozenset(all_leases(partitions)))
    finally:
        db.close()  # a connection of its own, not the actors' shared one (`Database.shared`)


def kill_session(sid: int, wait: float = 5.0) -> int:
    """SIGKILL every process of session `sid` (an actor-system admin and its actors).

    Only processes running this very Python interpreter are touched, and never the caller's own
    session, so a stale pid file naming a reused id cannot hurt anything else.
    """
    if sid == os.getsid(0):
        return 0
    victims = [pid for pid in _pids() if _session_of(pid) == sid and _same_interpreter(pid)]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    # Wait for the whole session, also processes already on their way out (whose executable
    # can no longer be read): their sockets close only when they are gone.
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and session_pids(sid):
        time.sleep(0.02)
    return len(victims)


def session_pids(sid: int) -> list[int]:
    """Live processes of a session."""
    return [pid for pid in _pids() if _session_of(pid) == sid and alive(pid)]


def children(pid: int) -> list[int]:
    """Live processes whose parent is `pid`."""
    return [child for child in _pids()
            if (fields := _stat(child)) and fields[1] == str(pid) and fields[0] != "Z"]


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name: state, ppid, pgrp, session, ...
    (empty when the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _session_of(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[3]) if len(fields) > 3 else None


def _same_interpreter(pid: int) -> bool:
    try:
        return os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(sys.executable)
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Whether the process `pid` runs (a zombie does not)."""
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0
