"""Operations: health, readiness, metrics, the OpenAPI document, the admin API."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...actors.messages import GetFaults, GetPaymentStatus, GetStats, InjectFault
from ...actors.system import ActorSystemUnavailable
from ...persistence.faults import HEALTH, RETRY_AFTER_S, disk_state
from ...persistence.journal import Journal
from ...persistence.notices import Notices
from ...persistence.probe import probe
from ..hardening import admin_csp
from ..keys import ADMISSION, BRIDGE, DB, DIRECTORY, METRICS, OPENAPI, READS, RUNTIME, STREAMS
from ..problems import Problem
from ..wire import read_body, respond

STATIC = Path(__file__).resolve().parent.parent / "static"


async def health(request: web.Request) -> web.Response:
    return respond(request, {"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    runtime = request.app.get(RUNTIME)
    if runtime is None or not runtime.running:
        raise Problem("service_unavailable", "the actor system is not running", retry_after=1.0)
    try:
        request.app[DB].execute("SELECT 1").fetchone()
    except Exception as exc:  # any database failure means not ready
        raise Problem("service_unavailable", f"the database is not reachable: {exc}") from None
    fault = await _storage_fault(runtime)
    if fault:
        raise Problem("storage_unavailable", fault, retry_after=RETRY_AFTER_S)
    return respond(request, {"status": "ready", "base": runtime.base})


async def _storage_fault(runtime) -> str | None:
    """Why writes fail now: the file system's state, else the last fault, re-probed (in a
    thread: the probe waits for SQLite's write lock) so that readiness returns by itself."""
    fault = disk_state(runtime.data_dir)
    if fault is None and HEALTH.fault is not None:
        fault = await asyncio.get_running_loop().run_in_executor(None, probe, runtime.db_path)
    return fault


async def _actor_stats(request: web.Request):
    reply = await asyncio.wait_for(request.app[BRIDGE].ask("guardian", GetStats()), 10)
    return reply.result


async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    # HTTP figures are still worth scraping while the actors are down.
    with contextlib.suppress(ActorSystemUnavailable, TimeoutError):
        m.observe_actors(await _actor_stats(request))
        m.observe_payment((await request.app[BRIDGE].ask("payment", GetPaymentStatus())).result)
    m.in_flight.set(request.app[BRIDGE].in_flight)
    m.streams.set(len(request.app[STREAMS]))
    return web.Response(body=generate_latest(m.registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return respond(request, request.app[OPENAPI])


async def admin_actors(request: web.Request) -> web.Response:
    stats = await _actor_stats(request)
    actors = [asdict(a) for a in stats.actors]
    return respond(request, {"actors": actors, "live": stats.live,
                             "retired_messages": stats.retired_messages})


async def admin_stats(request: web.Request) -> web.Response:
    stats = await _actor_stats(request)
    reads = request.app[READS]
    return respond(request, {
        "orders_by_status": reads.orders_by_status(),
        "live_order_actors": stats.live.get("order", 0),
        "live_entities": stats.live,
        "journal": Journal(request.app[DB]).stats(),
        "events_by_kind": Journal(request.app[DB]).counts_by_kind(),
        "actor_messages": sum(a.messages_in for a in stats.actors) + stats.retired_messages,
        "notifications": reads.notification_stats(),
        "outbox": reads.outbox_stats(),
        "admission": request.app[ADMISSION].snapshot(),
    })


async def admin_payment(request: web.Request) -> web.Response:
    return respond(request, await request.app[BRIDGE].command("payment", GetPaymentStatus()))


FAULT_KINDS = {"payment": ("crash", "slow", "fail", "clear"), "store": ("down", "up", "crash"),
               "all": ("clear",)}


async def admin_faults(request: web.Request) -> web.Response:
    """Inject or clear a fault; answers with every fault now in force."""
    body = await read_body(request)
    target = body.str("target", max_len=16)
    if target not in FAULT_KINDS:
        raise Problem("invalid_field", f"target must be one of {', '.join(FAULT_KINDS)}", "target")
    kind = body.str("kind", max_len=16)
    if kind not in FAULT_KINDS[target]:
        raise Problem("invalid_field", f"kind for {target} must be one of "
                                       f"{', '.join(FAULT_KINDS[target])}", "kind")
    store_id = body.str("store_id", max_len=64) if target == "store" else ""
    if store_id and not request.app[DIRECTORY].exists("stores", store_id):
        raise Problem("not_found", f"store {store_id!r} does not exist", "store_id")
    delay_ms = body.int("delay_ms", 0, 60_000) if kind == "slow" else 0
    rate = 0.0
    if kind == "fail":
        rate = body.number("rate")
        if not 0.0 <= rate <= 1.0:
            raise Problem("invalid_field", "rate must be within 0.0..1.0", "rate")
    fault = InjectFault(target, kind, delay_ms, rate, store_id)
    bridge = request.app[BRIDGE]
    payment = await bridge.command("payment", fault if target != "store" else GetFaults())
    stores = await bridge.command("stores", fault if target != "payment" else GetFaults())
    return respond(request, {"faults": payment + stores})


async def admin_order_events(request: web.Request) -> web.Response:
    """An order's journal, event by event (what the console's `order` command shows)."""
    order_id = request.match_info["order_id"]
    records = Journal(request.app[DB]).records_of(order_id)
    if not records:
        raise Problem("not_found", f"order {order_id!r} does not exist")
    events = []
    for rec in records:
        fields = {k: v for k, v in asdict(rec.event).items()
                  if k not in ("order_id", "event_id", "version", "at")}
        events.append({"seq": rec.seq, "version": rec.event.version, "at": rec.event.at,
                       "kind": type(rec.event).__name__, "event_id": rec.event.event_id,
                       "data": fields})
    return respond(request, {"order_id": order_id, "events": events,
                             "view": request.app[READS].view(order_id),
                             "notifications": Notices(request.app[DB]).of_order(order_id)})


async def admin_page(request: web.Request) -> web.FileResponse:
    page = STATIC / "admin.html"
    return web.FileResponse(page, headers={
        "Cache-Control": "no-store", "Content-Security-Policy": admin_csp(page)})
