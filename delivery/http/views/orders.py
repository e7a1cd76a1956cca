"""The customer's orders: place, pay, cancel, confirm delivery, read, watch."""

from __future__ import annotations

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from ...domain import commands as c
from ...domain import order
from ...domain.menu import MAX_LINES
from ...domain.order import OrderState
from ...jsontext import dumps
from ...persistence.journal import Journal
from .. import auth
from ..fanout import TooManyStreams, Watch
from ..idempotency import idempotent
from ..keys import BRIDGE, DB, FEED, HEADERS, READS, SETTINGS, STREAMS
from ..problems import Problem
from ..wire import read_body, respond, respond_json_text


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


PARTIES = ("customers", "stores", "riders")  # the order of ReadModel.parties_and_view's parties


def _may_read(request: web.Request, order_id: str, parties) -> None:
    """404 unless the caller is the order's customer, its store or its rider."""
    kind, id = auth.caller(request)
    if parties is None or parties[PARTIES.index(kind)] != id:
        # Someone else's order is answered like a missing one, so ids cannot be probed.
        raise Problem("not_found", f"order {order_id!r} does not exist")


def _readable_state(request: web.Request) -> OrderState:
    """The order if the caller may see it: its customer, its store or its rider (else 404)."""
    order_id = request.match_info["order_id"]
    state = request.app[READS].state(order_id)
    _may_read(request, order_id,
              state and (state.customer_id, state.store_id, state.rider_id))
    return state


async def get_order(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    found = request.app[READS].parties_and_view(order_id)
    _may_read(request, order_id, found and found[0])
    return respond_json_text(request, found[1])


async def order_events(request: web.Request) -> web.StreamResponse:
    """The current view, then one event per change of the order, until the order is final or
    the client leaves. Changes arrive from the front door's one journal reader (fanout.py)."""
    state = _readable_state(request)
    feed = request.app[FEED]
    try:
        watch = feed.open(auth.caller(request), state.id, lambda: request.transport is None)
    except TooManyStreams as exc:
        raise Problem("too_many_streams", str(exc)) from None
    try:
        # Opened before this load, so a change lands either in the load or on the watch (or
        # both: versions already sent are skipped), never in neither.
        for event in Journal(request.app[DB]).load(state.id, after=state.version):
            state = order.evolve(state, event)
        return await _stream(request, watch, state)
    finally:
        feed.close(watch)


async def _stream(request: web.Request, watch: Watch, state: OrderState) -> web.StreamResponse:
    ping = request.app[SETTINGS].streams.ping_interval_s
    stream = EventSourceResponse(ping_interval=ping)
    # Its headers go out now, before the front door's middleware sees the answer.
    request.app[HEADERS].add(request, stream)
    await stream.prepare(request)
    async with stream:
        request.app[STREAMS].add(stream)
        try:
            await _send(stream, state)
            while not state.is_final:
                event = await watch.events.get()
                if event is None:  # the client left, or the front door is stopping
                    break
                if event.version > state.version:
                    state = order.evolve(state, event)
                    await _send(stream, state)
        except ConnectionError:
            pass  # the client left while we wrote; nothing to tell anyone
        finally:
            request.app[STREAMS].discard(stream)
    return stream


async def _send(stream, state: OrderState) -> None:
    await stream.send(dumps(order.view(state)), id=str(state.version), event="status")


async def my_orders(request: web.Request) -> web.Response:
    customer_id = auth.caller(request)
    return respond(request, {"orders": request.app[READS].customer_orders(customer_id)})


async def my_notifications(request: web.Request) -> web.Response:
    customer_id = auth.caller(request)
    return respond(request, {"notifications": request.app[READS].notifications("customer", customer_id)})
