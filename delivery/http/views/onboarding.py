"""The admin's side of onboarding and dispatch: approve or suspend stores and riders, list who
waits for approval, take a picked order away from its rider."""

from __future__ import annotations

from aiohttp import web

from ...domain.commands import UnassignOrder
from ...domain.onboarding import ACTIONS, PENDING, SUSPENDED
from ..keys import BRIDGE, DIRECTORY
from ..problems import Problem
from ..wire import read_body, respond


def set_status(kind: str, action: str):
    """The view of POST /admin/api/{kind}/{id}/{action}: the entity with its new status."""
    status, id_key = ACTIONS[action], f"{kind[:-1]}_id"

    async def view(request: web.Request) -> web.Response:
        entity_id = request.match_info[id_key]
        changed = request.app[DIRECTORY].set_status(kind, entity_id, status)
        if changed is None:
            raise Problem("not_found", f"{kind[:-1]} {entity_id!r} does not exist")
        return respond(request, changed)

    view.__name__ = f"{action}_{kind[:-1]}"
    return view


async def waiting(request: web.Request) -> web.Response:
    """Stores and riders not approved: pending ones to approve, suspended ones to reinstate."""
    directory = request.app[DIRECTORY]
    return respond(request, {kind: directory.onboarding(kind, (PENDING, SUSPENDED))
                             for kind in ("stores", "riders")})


async def unassign(request: web.Request) -> web.Response:
    """Take a picked order from its rider: it is cooked again and riders nearby see it."""
    body = await read_body(request, optional=True)
    reason = body.str("reason", required=False, max_len=200) or "unassigned by the admin"
    command = UnassignOrder(request.match_info["order_id"], reason)
    return respond(request, await request.app[BRIDGE].command("orders", command))
