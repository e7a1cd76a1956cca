"""The actors in a process of their own (`actors.own_process = true`).

On simpleSystemBase every actor runs in one thread of the service's process, and that thread and
the event loop take turns on one interpreter lock: at full load the service uses ~0.9 of a core
however many the machine has. With `actors.own_process` the front door starts a child process
(`python -m delivery.actors.host FD`) that owns the actor system and the data directory's lock,
and talks to it over a socket pair: the front door parses, authenticates, serves reads from the
read model and answers; the child only runs the commands. Each gets an interpreter and a core.

Both ways the socket carries a stream of msgpack objects (codec.py), no other framing:

- front door → child: the Settings first, then `[corr, target, body]` per request;
- child → front door: `[0, "ready", base, node name]` or `[0, "failed", error type, reason]`
  once started, then `[corr, outcome, payload, received, queued, waited_s]` per answer
  (outcome: REPLY with the Reply, or UNAVAILABLE, FAILED, UNKNOWN with a reason; `received`:
  messages the actors received so far; `queued`, `waited_s`: requests the pump took since the
  last answer and their total wait, admission control's signal), and `[0, "commit"]` when another
  node commits (PostgreSQL: the event streams wake at once).

The child runs only while the front door does: it ends when the socket closes, and the kernel
sends it SIGKILL if the front door dies. A child that dies (or whose actor system's pump thread
ends: it exits then) is started again (backing off) while commands are answered `503`
meanwhile; nothing acknowledged is lost, since a command is answered only once committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import typing
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from msgpack import BufferFull

from .. import codec, logs
from ..children import die_with_parent, ended
from ..config import Settings
from ..datadir import DataDirInUse
from .base import RECEIVED
from .messages import Reply
from .queuetime import QueueTime
from .system import ActorFailure, ActorRuntime, ActorSystemUnavailable, database_of

log = logging.getLogger("delivery.system")

REPLY, UNAVAILABLE, FAILED, UNKNOWN = range(4)
START_TIMEOUT_S = 60.0  # a new interpreter, its imports and the actor system's boot
RESTART_MIN_S, RESTART_MAX_S = 0.5, 30.0
EXIT_GRACE_S = 10.0  # the child's actor system stops in this, or the child exits regardless
_ERRORS: dict[int, type[Exception]] = {UNAVAILABLE: ActorSystemUnavailable, FAILED: ActorFailure,
                                       UNKNOWN: ValueError}


def register_settings() -> None:
    """Make Settings and its sections encodable (they cross the socket once, first)."""
    todo: list[type] = [Settings]
    while todo:
        cls = todo.pop()
        codec.register(cls)
        todo += [t for t in typing.get_type_hints(cls).values() if dataclasses.is_dataclass(t)]


# -- the front door's side ----------------------------------------------------------------------


class ActorProcess:
    """The actor system in a child process, with ActorRuntime's face towards the front door."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.actors.base
        self.data_dir = Path(settings.server.data_dir)
        self.db_path = database_of(settings)
        self.reply_timeout = settings.actors.reply_timeout_s
        self.queue_time = QueueTime()
        self.node_name = ""
        self.pid: int | None = None  # the child's
        self._received = 0
        self._corr = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future, float]] = {}
        self._wakes: list[Callable[[], None]] = []
        self._channel: _Channel | None = None
        self._child: subprocess.Popen | None = None
        self._keeper: asyncio.Task | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        """Start the child; returns once its actor system answers. DataDirInUse or
        ActorSystemUnavailable (with the child's reason) when it cannot start."""
        register_settings()
        await self._start_child()
        self._keeper = asyncio.create_task(self._keep())

    async def close(self) -> None:
        """Stop the child: its actor system stops as in-process, then it exits."""
        if self._keeper is not None:
            self._keeper.cancel()
        await self._end_child()
        self._fail_pending("actor system stopped")

    @property
    def running(self) -> bool:
        return self._channel is not None and self._channel.ready and not self._channel.lost.done()

    def wake_on_commit(self, wake: Callable[[], None]) -> None:
        self._wakes.append(wake)

    def messages_received(self) -> int:
        return self._received

    # -- requests ----------------------------------------------------------------------------
    async def ask(self, target: str, body: Any) -> Reply:
        if not self.running:
            raise ActorSystemUnavailable("actor system is not running")
        corr = next(self._corr)
        future = asyncio.get_running_loop().create_future()
        # The child answers within its reply timeout; the margin covers a child that hangs.
        self._pending[corr] = future, time.monotonic() + self.reply_timeout + 2.0
        self._channel.send([corr, target, body])
        try:
            return await future
        finally:
            self._pending.pop(corr, None)

    def _answered(self, frame: list) -> None:
        corr, outcome, payload, received, queued, waited_s = frame
        self._received = received
        if queued:
            self.queue_time.add(queued, waited_s)
        future = self._pending.get(corr, (None, 0.0))[0]
        if future is None or future.done():
            return  # given up on (see _keep)
        if outcome == REPLY:
            future.set_result(payload)
        else:
            future.set_exception(_ERRORS[outcome](payload))

    def _event(self, frame: list) -> None:
        if frame[1] == "commit":
            for wake in self._wakes:
                wake()

    def _fail_pending(self, reason: str) -> None:
        for future, _ in list(self._pending.values()):
            if not future.done():
                future.set_exception(ActorSystemUnavailable(reason))

    # -- the child -------------------------------------------------------------------------------
    async def _start_child(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            # From the event loop's thread, which lives as long as the process (see children.py).
            # No preexec_fn: this process has threads, and code run between fork and exec
            # may deadlock then; the child asks for its death signal itself (child_main).
            self._child = subprocess.Popen(
                [sys.executable, "-m", "delivery.actors.host", str(theirs.fileno()),
                 str(os.getpid())], pass_fds=(theirs.fileno(),))
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.pid = self._child.pid
        loop = asyncio.get_running_loop()
        _, channel = await loop.create_connection(
            lambda: _Channel(loop, self._answered, self._event), sock=ours)
        self._channel = channel
        channel.send(self.settings)
        try:
            started = await asyncio.wait_for(asyncio.shield(channel.started), START_TIMEOUT_S)
        except TimeoutError:
            await self._end_child()
            raise ActorSystemUnavailable("the actor process did not start in time") from None
        if started[1] != "ready":
            code = await self._end_child()
            error, reason = (started[2], started[3]) if len(started) == 4 else \
                ("", f"the actor process {ended(code)} before it started")
            raise (DataDirInUse if error == "DataDirInUse" else ActorSystemUnavailable)(reason)
        self.node_name = started[3]

    async def _end_child(self) -> int:
        """Close the socket (the child stops its actor system and exits) and reap it."""
        if self._channel is not None:
            self._channel.close()
        child = self._child
        if child is None:
            return 0
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, child.wait, EXIT_GRACE_S + 5.0)
        except subprocess.TimeoutExpired:
            child.kill()
            return await loop.run_in_executor(None, child.wait)

    async def _keep(self) -> None:
        """Give up on answers overdue; when the child dies, fail what waited on it and start
        it again, backing off while it keeps failing to start."""
        delay = RESTART_MIN_S
        while True:
            lost = self._channel.lost
            done, _ = await asyncio.wait({lost}, timeout=1.0)
            now = time.monotonic()
            for future, due in list(self._pending.values()):
                if due <= now and not future.done():
                    future.set_exception(ActorSystemUnavailable(
                        "no reply from the actor system in time"))
            if not done:
                continue
            self._fail_pending("the actor process ended")
            code = await self._end_child()
            log.error("the actor process %s; starting it again", ended(code))
            while True:
                try:
                    await self._start_child()
                    delay = RESTART_MIN_S
                    break
                except (ActorSystemUnavailable, DataDirInUse, OSError) as exc:
                    log.error("the actor process did not start (%s); trying again in %.1f s",
                              exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(RESTART_MAX_S, delay * 2)


class _Channel(asyncio.Protocol):
    """The front door's end of the socket: writes frames, reads them as they come."""

    def __init__(self, loop: asyncio.AbstractEventLoop, answered: Callable[[list], None],
                 event: Callable[[list], None]) -> None:
        self.stream = codec.stream()
        self.answered, self.event = answered, event
        self.started: asyncio.Future = loop.create_future()  # the child's first frame
        self.lost: asyncio.Future = loop.create_future()
        self.transport: asyncio.Transport | None = None

    @property
    def ready(self) -> bool:
        return self.started.done() and self.started.result()[1] == "ready"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, obj: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(codec.encode(obj))

    def data_received(self, data: bytes) -> None:
        try:
            self.stream.feed(data)  # BufferFull past the 100 MiB it holds undecoded
            for frame in self.stream:
                if frame[0]:
                    self.answered(frame)
                elif not self.started.done():
                    self.started.set_result(frame)
                else:
                    self.event(frame)
        except (codec.CodecError, ValueError, TypeError, BufferFull) as exc:
            log.error("the actor process sent what is not a frame (%r); ending it", exc)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.started.done():
            self.started.set_result([0, "ended"])
        if not self.lost.done():
            self.lost.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# -- the child's side ----------------------------------------------------------------------------


class _Sender:
    """Writes frames to the front door from any thread, through a thread of its own.

    Answers come from the pump thread, which may hold the journal's write lock: were it to wait
    on a full socket while the front door waits on that lock (not reading), both would wait for
    ever. What queues up meanwhile goes out in one write.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()  # None: close
        self.writer = threading.Thread(target=self._write, name="to-front-door", daemon=True)
        self.writer.start()

    def __call__(self, obj: Any) -> None:
        self._queue.put(codec.encode(obj))  # encoded here: TypeError reaches the caller

    def close(self, timeout: float) -> None:
        """Write what is queued (waiting at most `timeout`), then stop."""
        self._queue.put(None)
        self.writer.join(timeout)

    def _write(self) -> None:
        while True:
            chunks = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while chunks[-1] is not None:
                    chunks.append(self._queue.get_nowait())
            closing = chunks[-1] is None
            try:
                self.sock.sendall(b"".join(chunks[:-1] if closing else chunks))
            except OSError:
                return  # the front door is gone: the read loop sees it and stops
            if closing:
                return


def _answer(send: _Sender, runtime: ActorRuntime, corr: int, future: Any) -> None:
    try:
        outcome, payload = REPLY, future.result()
    except ActorSystemUnavailable as exc:
        outcome, payload = UNAVAILABLE, str(exc)
    except ActorFailure as exc:
        outcome, payload = FAILED, str(exc)
    except ValueError as exc:
        outcome, payload = UNKNOWN, str(exc)
    queued, waited_s = runtime.queue_time.take()
    try:
        send([corr, outcome, payload, RECEIVED.n, queued, waited_s])
    except TypeError as exc:  # a result the codec does not know: a bug, said as such
        log.error("cannot send the answer to the front door: %s", exc)
        send([corr, FAILED, f"the answer could not be encoded: {exc}", RECEIVED.n, 0, 0.0])


def _frames(sock: socket.socket, stream: Any):
    """Objects read from the socket until the front door closes it."""
    while data := sock.recv(1 << 16):
        stream.feed(data)
        yield from stream


def child_main(fd: int, parent: int) -> int:
    # Ctrl-C, or a stop of the whole process group (systemd), reaches the front door, which
    # finishes its requests and then closes the socket: that ends us (see the end of this file).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(signal.SIGKILL)  # SIGTERM is ignored; nothing unacknowledged is lost
    if os.getppid() != parent:
        return 0  # the front door died before we asked to be told
    sock = socket.socket(fileno=fd)
    send, frames = _Sender(sock), _frames(sock, codec.stream())
    register_settings()
    settings = _first_settings(frames)
    if settings is None:
        return 0  # the front door went away before it said anything
    logs.setup(settings.logging)
    runtime = ActorRuntime(settings)
    try:
        runtime.start()
    except Exception as exc:
        send([0, "failed", type(exc).__name__, str(exc)])
        send.close(EXIT_GRACE_S)
        return 1
    runtime.wake_on_commit(partial(send, [0, "commit"]))
    pump_died = threading.Event()

    def pump_ended() -> None:
        log.error("the actor system's pump thread ended; the actor process exits, "
                  "for the front door to start another")
        pump_died.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)  # the loop below ends as when the front door closes

    stopping = _on_pump_end(runtime, pump_ended)
    send([0, "ready", runtime.base, runtime.node_name])
    try:
        for corr, target, body in frames:
            runtime.request(target, body).add_done_callback(partial(_answer, send, runtime, corr))
    finally:
        stopping.set()
        # The actor system stops as in-process; should it hang, the process ends regardless.
        watchdog = threading.Timer(EXIT_GRACE_S, os._exit, (1,))
        watchdog.daemon = True
        watchdog.start()
        runtime.stop()
        send.close(EXIT_GRACE_S)  # the answers of the stop too, if the front door still reads
    return 1 if pump_died.is_set() else 0


def _on_pump_end(runtime: ActorRuntime, ended: Callable[[], None]) -> threading.Event:
    """Call `ended` (from a thread of its own) should the runtime's pump thread end before the
    event returned is set. Without it a child whose pump died would live on, answering every
    command 503, while its socket told the front door all was well."""
    stopping = threading.Event()

    def watch() -> None:
        runtime.wait_pump()
        if not stopping.is_set():
            ended()

    threading.Thread(target=watch, name="pump-watch", daemon=True).start()
    return stopping


def _first_settings(frames: Any) -> Settings | None:
    for settings in frames:
        return settings
    return None


if __name__ == "__main__":
    sys.exit(child_main(int(sys.argv[1]), int(sys.argv[2])))
