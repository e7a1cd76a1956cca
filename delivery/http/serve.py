"""`python run.py serve`: the HTTP front door over the actor system, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys

from aiohttp import web

from .. import config
from ..actors.system import ActorSystemUnavailable
from ..datadir import DataDirInUse
from ..persistence.faults import DataDirUnwritable, check_writable
from ..secretkey import SecretKeyError
from ..secrets import missing as missing_secrets
from .app import admin_token, create_app
from .keys import RUNTIME

log = logging.getLogger("delivery")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py serve", description="Serve the REST API.")
    p.add_argument("--host", help="address to listen on (default server.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default server.port, 8080; 0 picks one)")
    p.add_argument("--data-dir", help="directory of the database (default server.data_dir, ./data)")
    p.add_argument("--config", help="TOML overlay on config/default.toml")
    p.add_argument("--demo-data", action="store_true",
                   help="register demo stores, customers and riders and print their tokens")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    os.umask(0o077)  # the data directory and its databases (names, phones, addresses): ours alone
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        settings = config.load(args.config, **{"server.host": args.host, "server.port": args.port,
                                               "server.data_dir": args.data_dir})
        token, generated = admin_token(settings, dict(os.environ))
        unset = missing_secrets(settings)
        if unset:  # names of variables only: never a value
            raise config.ConfigError(f"environment variable {unset[0]} must be set for "
                                     "the configured payment provider or notification channel")
    except config.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if generated:
        print(f"admin token (generated, shown once): {token}", flush=True)
    return asyncio.run(_serve(settings, token, args.demo_data))


async def _serve(settings: config.Settings, token: str, demo: bool) -> int:
    try:
        check_writable(settings.server.data_dir)  # before the lock file or the database
    except DataDirUnwritable as exc:
        return _refuse(str(exc))
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
            port = await listen(runner, host, server.port)
        except OSError as exc:  # the finally below stops the actors and frees the directory
            return _refuse(f"cannot listen on {host}:{server.port}: {_reason(exc)}")
        print(f"delivery serving on http://{host}:{port} (actors: {app[RUNTIME].base}, "
              f"data: {server.data_dir}); Ctrl-C or SIGTERM stops it", flush=True)
        if demo:
            from .demo_data import seed

            await seed(f"http://{host}:{port}", token)
        await _until_signalled()
        print("stopping: finishing requests, shutting the actor system down", flush=True)
    finally:
        await runner.cleanup()  # stops accepting, finishes in-flight requests, stops actors
    print("stopped", flush=True)
    return 0


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner of the service. Handlers are not cancelled when a client leaves (aiohttp's
    default, unlike its test server): a left client's stream or body read ends by itself
    (`fanout.py`, `deadlines.py`), and a command already handed to an actor finishes."""
    return web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=10)


async def listen(runner: web.AppRunner, host: str, port: int) -> int:
    """Start listening; the real port (when 0 was asked)."""
    site = web.TCPSite(runner, host, port)
    await site.start()
    return site._server.sockets[0].getsockname()[1]


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
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
