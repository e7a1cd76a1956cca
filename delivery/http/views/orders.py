"""The customer's orders: place, pay, cancel, confirm delivery, read, watch."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp_sse import sse_response

from ...domain import commands as c
from ...domain import order
from ...domain.menu import MAX_LINES
from ...domain.order import OrderState
from ...jsontext import dumps
from ...persistence.journal import Journal
from .. import auth
from ..idempotency import idempotent
from ..keys import BRIDGE, DB, READS, STREAMS
from ..problems import Problem
from ..wire import read_body, respond, respond_json_text

SSE_POLL_S = 0.1
SSE_PING_S = 15.0


async def place_order(request: web.Request) -> web.Response:
    customer_id = auth.caller(request)
    body = await read_body(request)
    store_id = body.str("store_id", max_len=64)
    # The domain checks quantities and menu items (price_order); the view checks only shapes.
    items = tuple((item.str("menu_item_id", max_len=64), item.int("quantity", -10**9, 10**9))
                  for item in body.list("items", MAX_LINES))
    where = body.obj("delivery_address")
    location = where.location()
    address = c.Address(location.lat, location.lon, where.str("text", max_len=300))

    async def create(order_id: str):
        view = await request.app[BRIDGE].command(
            "orders", c.PlaceOrder(order_id, customer_id, store_id, items, address))
        return 201, view, {"Location": f"/orders/{view['id']}"}

    return await idempotent(request, f"customer:{customer_id} POST /orders", "ord", create)


async def pay_order(request: web.Request) -> web.Response:
    customer_id = auth.caller(request)
    body = await read_body(request)
    command = c.PayOrder(request.match_info["order_id"], customer_id, body.str("method", max_len=16),
                         body.str("card_token", max_len=200))
    return respond(request, await request.app[BRIDGE].command("orders", command))


async def cancel_order(request: web.Request) -> web.Response:
    customer_id = auth.caller(request)
    body = await read_body(request, optional=True)
    command = c.CancelOrder(request.match_info["order_id"], customer_id,
                            body.str("reason", required=False, max_len=500))
    return respond(request, await request.app[BRIDGE].command("orders", command))


async def confirm_delivery(request: web.Request) -> web.Response:
    customer_id = auth.caller(request)
    command = c.ConfirmDelivery(request.match_info["order_id"], customer_id)
    return respond(request, await request.app[BRIDGE].command("orders", command))


def _readable_state(request: web.Request) -> OrderState:
    """The order if the caller may see it: its customer, its store or its rider (else 404)."""
    order_id = request.match_info["order_id"]
    who = auth.caller(request)
    state = request.app[READS].state(order_id)
    parties = {"customers": state.customer_id, "stores": state.store_id,
               "riders": state.rider_id} if state else {}
    if parties.get(who[0]) != who[1]:
        # Someone else's order is answered like a missing one, so ids cannot be probed.
        raise Problem("not_found", f"order {order_id!r} does not exist")
    return state


async def get_order(request: web.Request) -> web.Response:
    _readable_state(request)
    return respond_json_text(request, request.app[READS].view_json(request.match_info["order_id"]))


async def order_events(request: web.Request) -> web.StreamResponse:
    """The current view, then one event per change of the order, until the client leaves."""
    state = _readable_state(request)
    reads, streams = request.app[READS], request.app[STREAMS]
    journal = Journal(request.app[DB])
    async with sse_response(request) as stream:
        streams.add(stream)
        try:
            await stream.send(dumps(order.view(state)), event="status")
            idle = 0.0
            while stream.is_connected():
                await asyncio.sleep(SSE_POLL_S)
                idle += SSE_POLL_S
                if reads.version(state.id) > state.version:
                    # Replay the journal so that every change is its own event, even two that
                    # landed between polls.
                    for event in journal.load(state.id, after=state.version):
                        state = order.evolve(state, event)
                        await stream.send(dumps(order.view(state)), event="status")
                    idle = 0.0
                elif idle >= SSE_PING_S:
                    await stream.send("", event="ping")
                    idle = 0.0
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            streams.discard(stream)
    return stream



async def my_orders(request: web.Request) -> web.Response:
    customer_id = auth.caller(request)
    return respond(request, {"orders": request.app[READS].customer_orders(customer_id)})


async def my_notifications(request: web.Request) -> web.Response:
    customer_id = auth.caller(request)
    return respond(request, {"notifications": request.app[READS].notifications("customer", customer_id)})
