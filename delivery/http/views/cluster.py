"""The cluster view of the admin API: nodes, their leases, each lease's lag."""

from __future__ import annotations

from aiohttp import web

from ...cluster.view import cluster_view
from ..keys import DB, RUNTIME, SETTINGS
from ..wire import respond


async def admin_cluster(request: web.Request) -> web.Response:
    app = request.app
    return respond(request, cluster_view(app[DB], app[SETTINGS], app[RUNTIME].node_name))
