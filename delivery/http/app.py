"""The application factory: routes, middlewares, and the resources opened and closed with it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..actors.host import ActorProcess
from ..actors.messages import GetPaymentStatus, GetStats
from ..actors.system import ActorRuntime, ActorSystemUnavailable
from ..admintoken import load_or_create
from ..config import MIN_ADMIN_TOKEN, ConfigError, Settings
from ..notify.alimtalk import ResultsHook
from ..payment.toss import TossProvider
from ..persistence.db import Database
from ..persistence.directory import Directory
from ..persistence.journal import Journal
from ..persistence.readmodel import ReadModel
from ..secretkey import load_secret
from ..secrets import ALIMTALK_WEBHOOK_SIGNATURE, TOSS_SECRET_KEY, secret
from .admission import AdmissionCollector, AdmissionControl
from .bridge import Bridge
from .deadlines import handler_args
from .fanout import OrderFeed
from .front import front_door
from .hardening import SecurityHeaders
from .keys import (
    ADMIN_TOKEN,
    ADMISSION,
    ALIMTALK_HOOKS,
    BRIDGE,
    DB,
    DIRECTORY,
    FEED,
    HEADERS,
    METRICS,
    READS,
    RUNTIME,
    SETTINGS,
    STREAMS,
    TOSS,
)
from .metrics import Metrics
from .problems import MAX_BODY
from .routes import add_routes, public_routes

log = logging.getLogger("delivery.http")


def admin_token(settings: Settings, env: dict[str, str]) -> tuple[str, str]:
    """The admin token and where it comes from: "configured" (admin.token, else
    DELIVERY_ADMIN_TOKEN), else "stored" in DATA_DIR/admin.token, else "generated" now and
    stored there (delivery/admintoken.py)."""
    token = settings.admin.token or env.get("DELIVERY_ADMIN_TOKEN", "")
    if token:
        if len(token) < MIN_ADMIN_TOKEN:  # config.load checks the key; this catches the variable
            raise ConfigError(f"config key 'admin.token' (or DELIVERY_ADMIN_TOKEN) must be at "
                              f"least {MIN_ADMIN_TOKEN} characters, got {len(token)}")
        return token, "configured"
    token, made = load_or_create(settings.server.data_dir)
    return token, "generated" if made else "stored"


def create_app(settings: Settings, admin: str) -> web.Application:
    """The front door over an actor system started and stopped with the app."""
    metrics = Metrics()
    admission = AdmissionControl(settings.admission)
    metrics.registry.register(AdmissionCollector(admission))
    headers = SecurityHeaders(public_routes())
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[front_door(settings, metrics, admission, headers)],
                          handler_args=handler_args(settings.server))
    app[HEADERS] = headers
    app[SETTINGS], app[METRICS], app[ADMIN_TOKEN], app[STREAMS] = settings, metrics, admin, set()
    app[ADMISSION] = admission
    if settings.payment.provider == "toss":  # the webhook looks payments up with our key
        app[TOSS] = TossProvider(settings.payment.toss, settings.payment.call_timeout_s,
                                 secret(TOSS_SECRET_KEY))
    add_routes(app)
    app.cleanup_ctx.append(_actor_system)
    app.on_shutdown.append(_close_streams)
    return app


async def _actor_system(app: web.Application) -> AsyncIterator[None]:
    """Start the actor system and open the database; close both when the app stops."""
    loop = asyncio.get_running_loop()
    load_secret(app[SETTINGS].server.data_dir)  # made, or refused, before anything starts
    # The runtime starts first: on multiprocTCPBase its admin is forked, and it must not inherit
    # this process's database connection.
    settings = app[SETTINGS]
    runtime = ActorProcess(settings) if settings.actors.apart else ActorRuntime(settings)
    await runtime.open()
    db = Database(runtime.db_path)
    app[RUNTIME], app[BRIDGE], app[DB] = runtime, Bridge(runtime), db
    app[ADMISSION].attach(runtime.queue_time.take)
    app[READS], app[DIRECTORY] = ReadModel(db), Directory(db)
    if app[SETTINGS].notifications.alimtalk_on:  # NHN's result webhook, checked by signature
        app[ALIMTALK_HOOKS] = ResultsHook(db, secret(ALIMTALK_WEBHOOK_SIGNATURE))
    streams = app[SETTINGS].streams
    app[FEED] = OrderFeed(Journal(db), streams.max_per_token)
    feeder = asyncio.create_task(app[FEED].run(streams.poll_interval_ms / 1000))
    runtime.wake_on_commit(app[FEED].wake_from(loop))  # PostgreSQL: others' commits wake it
    sampler = asyncio.create_task(_sample_history(app))
    try:
        yield
    finally:
        feeder.cancel()
        sampler.cancel()
        await runtime.close()
        db.close()


async def _sample_history(app: web.Application, interval_s: float = 1.0) -> None:
    """Close one second of the console's history every second (delivery/http/history.py)."""
    history, bridge, limiter = app[METRICS].history, app[BRIDGE], app[ADMISSION].limiter
    while True:
        await asyncio.sleep(interval_s)
        messages = circuit = None
        with contextlib.suppress(ActorSystemUnavailable, TimeoutError):
            messages = app[RUNTIME].messages_received()
            if messages is None:  # actors in processes of their own: ask them all
                stats = (await asyncio.wait_for(bridge.ask("guardian", GetStats()), 2)).result
                messages = sum(a.messages_in for a in stats.actors) + stats.retired_messages
            payment = (await asyncio.wait_for(bridge.ask("payment", GetPaymentStatus()), 2)).result
            circuit = payment["circuit"]["state"]
        history.sample(messages, sum(limiter.refused.values()), circuit)


async def _close_streams(app: web.Application) -> None:
    if FEED in app:  # absent when the start failed
        app[FEED].end_all()
