"""GET /admin/api/audit: the checks of `run.py audit`, run server-side on the live database."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ...audit.run import audit_data_dir, summary
from ..keys import SETTINGS
from ..wire import query_number, respond

MAX_GRACE_S = 86_400.0


def _grace(request: web.Request) -> float:
    """Seconds an order must have been quiet; by default two sweeps, after which anything
    still pending was not re-driven."""
    grace = query_number(request, "grace_s", 0, MAX_GRACE_S)
    return 2 * request.app[SETTINGS].actors.sweep_interval_s if grace is None else grace


async def admin_audit(request: web.Request) -> web.Response:
    grace = _grace(request)
    settings = request.app[SETTINGS]
    data_dir = settings.storage.url or settings.server.data_dir
    # Own connections in a worker thread: reading the whole journal must not stall the loop.
    result = await asyncio.get_running_loop().run_in_executor(None, audit_data_dir, data_dir, grace)
    return respond(request, {**result.as_dict(), "grace_s": grace, "summary": summary(result)})
