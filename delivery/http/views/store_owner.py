"""The store owner's side: the store's queue, accept/reject, cooking, notifications."""

from __future__ import annotations

from aiohttp import web

from ...domain import commands as c
from ...domain.order import STATUSES
from .. import auth
from ..keys import BRIDGE, READS
from ..paging import INBOX_PAGE, cursor_position, make_cursor, page_limit
from ..problems import Problem
from ..wire import read_body, respond


async def store_orders(request: web.Request) -> web.Response:
    store_id = auth.caller(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise Problem("invalid_query", f"status must be one of {', '.join(STATUSES)}", "status")
    return respond(request, {"orders": request.app[READS].store_orders(store_id, status)})


async def _step(request: web.Request, make) -> web.Response:
    # The router checked the token before this view read anything.
    command = make(request.match_info["order_id"], auth.caller(request))
    return respond(request, await request.app[BRIDGE].command("orders", command))


async def accept(request: web.Request) -> web.Response:
    return await _step(request, c.AcceptOrder)


async def reject(request: web.Request) -> web.Response:
    body = await read_body(request, optional=True)
    reason = body.str("reason", required=False, max_len=500)
    return await _step(request, lambda order_id, store_id: c.RejectOrder(order_id, store_id, reason))


async def start_cooking(request: web.Request) -> web.Response:
    return await _step(request, c.StartCooking)


async def finish_cooking(request: web.Request) -> web.Response:
    return await _step(request, c.FinishCooking)


async def store_notifications(request: web.Request) -> web.Response:
    store_id = auth.caller(request)
    return respond(request, {"notifications": request.app[READS].notifications("store", store_id)})


async def store_inbox(request: web.Request) -> web.Response:
    """One page of what the store received, oldest first; `next_cursor` while more follow (a
    busy store passes a page in an evening, and its newest orders are on the last one)."""
    store_id = auth.caller(request)
    limit = page_limit(request, INBOX_PAGE, INBOX_PAGE)
    after = cursor_position(request, "inbox")
    page = request.app[READS].store_inbox(store_id, limit + 1, int(after[0]) if after else 0)
    more, page = len(page) > limit, page[:limit]
    return respond(request, {"received": page, "next_cursor": make_cursor(
        "inbox", page[-1]["seq"], page[-1]["order_id"]) if more else None})
