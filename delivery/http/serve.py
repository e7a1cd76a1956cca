"""`python run.py serve`: the HTTP front door over the actor system, until SIGTERM or SIGINT;
with `--workers N`, N such nodes sharing the port (`workers.py`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys

from aiohttp import web

from .. import cli, config, logs
from ..actors.host import ActorProcess
from ..actors.system import ActorSystemUnavailable
from ..admintoken import AdminTokenError, token_path
from ..datadir import DataDirInUse
from ..persistence.faults import DataDirUnwritable, check_writable
from ..secretkey import SecretKeyError
from ..secrets import missing as missing_secrets
from . import workers
from .app import admin_token, create_app
from .keys import RUNTIME, SETTINGS


def parse(argv: list[str]) -> argparse.Namespace:
    p = cli.parser("run.py serve", "Serve the REST API.")
    p.add_argument("--host", help="address to listen on (default: server.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port, 0 picks a free one (default: server.port, "
                                             "8080)")
    p.add_argument("--data-dir", help="directory of the database, the admin token and demo.env "
                                      "(default: server.data_dir, ./data)")
    p.add_argument("--config", help="TOML overlay on config/default.toml (default: none)")
    p.add_argument("--demo-data", action="store_true",
                   help="register demo stores, customers and riders once per data directory and "
                        "print them as shell lines (also written to DATA_DIR/demo.env)")
    p.add_argument("--workers", type=int, default=1,
                   help="node processes sharing the port, each on DATA_DIR/node-<i>; more than 1 "
                        "needs PostgreSQL storage (default: 1)")
    # A worker of `--workers`: share the port, write a line on this pipe once serving.
    p.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    os.umask(0o077)  # the data directory and its databases (names, phones, addresses): ours alone
    try:
        settings = config.load(args.config, **{"server.host": args.host, "server.port": args.port,
                                               "server.data_dir": args.data_dir})
        unset = missing_secrets(settings)
        if unset:  # names of variables only: never a value
            raise config.ConfigError(f"environment variable {unset[0]} must be set for "
                                     "the configured payment provider or notification channel")
    except config.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.logging)
    if reason := workers.refusal(args.workers, settings):
        return _refuse(reason)
    try:
        check_writable(settings.server.data_dir)  # before the token, the lock or the database
        token, source = admin_token(settings, dict(os.environ))
    except config.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except (DataDirUnwritable, AdminTokenError) as exc:
        return _refuse(str(exc))
    if source == "generated":
        print(f"admin token (generated, kept in {token_path(settings.server.data_dir)}): {token}",
              flush=True)
    elif source == "stored":
        print(f"admin token: kept in {token_path(settings.server.data_dir)} "
              f"(run.py console finds it)", flush=True)
    if args.workers > 1:
        try:
            return workers.supervise(settings, args.workers, args.config, token, args.demo_data)
        except workers.WorkersRefused as exc:
            return _refuse(str(exc))
    if args.ready_fd is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM
    return asyncio.run(_serve(settings, token, args.demo_data, args.ready_fd))


async def _serve(settings: config.Settings, token: str, demo: bool,
                 ready_fd: int | None = None) -> int:
    app = create_app(settings, token)
    runner = make_runner(app)
    try:
        await runner.setup()  # locks the data directory, starts the actor system (cleanup_ctx)
    except (DataDirInUse, ActorSystemUnavailable, SecretKeyError) as exc:
        return _refuse(str(exc))
    server = settings.server
    host = server.host
    try:
        try:
            port = await listen(runner, host, server.port, reuse_port=ready_fd is not None)
        except OSError as exc:  # the finally below stops the actors and frees the directory
            return _refuse(f"cannot listen on {host}:{server.port}: {_reason(exc)}")
        runtime = app[RUNTIME]
        actors = f"{runtime.base} in process {runtime.pid}" \
            if isinstance(runtime, ActorProcess) else runtime.base
        print(f"delivery serving on http://{host}:{port} (actors: {actors}, "
              f"data: {server.data_dir}); Ctrl-C or SIGTERM stops it", flush=True)
        if ready_fd is not None:  # a worker: its parent seeds demo data and waits for this
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
        elif demo:
            from .demo_data import seed

            await seed(f"http://{host}:{port}", token, server.data_dir)
        await _until_signalled(*((signal.SIGTERM,) if ready_fd is not None else
                                 (signal.SIGTERM, signal.SIGINT)))
        print("stopping: finishing requests, shutting the actor system down", flush=True)
    finally:
        await runner.cleanup()  # stops accepting, finishes in-flight requests, stops actors
    print("stopped", flush=True)
    return 0


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner of the service. Handlers are not cancelled when a client leaves (aiohttp's
    default, unlike its test server): a left client's stream or body read ends by itself
    (`fanout.py`, `deadlines.py`), and a command already handed to an actor finishes."""
    return web.AppRunner(app, handle_signals=False, shutdown_timeout=10,
                         access_log_class=logs.AccessLogger,
                         access_log=logs.access_logger(app[SETTINGS].logging.access_log))


async def listen(runner: web.AppRunner, host: str, port: int, reuse_port: bool = False) -> int:
    """Start listening; the real port (when 0 was asked). `reuse_port`: SO_REUSEPORT, so the
    workers of `--workers N` share the port and the kernel spreads connections over them."""
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    return site._server.sockets[0].getsockname()[1]


async def _until_signalled(*signals: signal.Signals) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _reason(exc: OSError) -> str:
    # asyncio's bind error repeats the address; the errno alone says it plainly.
    if exc.errno and not isinstance(exc, socket.gaierror):
        return os.strerror(exc.errno).lower()
    return str(exc)


def _refuse(reason: str) -> int:
    """A start that cannot go on: one line on stderr, exit code 1, never a traceback."""
    print(f"run.py serve: {reason}", file=sys.stderr, flush=True)
    return 1
