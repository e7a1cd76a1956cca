"""The router: reads are registered first (routes.add_routes), which is safe only because no
path matches two routes; these tests hold that."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from delivery.http.routes import ROUTES, add_routes

SAMPLE = "x_1"  # a value for every path parameter


def _url(path: str) -> str:
    return re.sub(r"{\w+}", SAMPLE, path)


def _router(routes) -> web.UrlDispatcher:
    app = web.Application()
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
    return app.router


async def _resolved(router: web.UrlDispatcher, method: str, path: str) -> tuple[str, str] | None:
    info = await router.resolve(make_mocked_request(method, _url(path)))
    if getattr(info, "http_exception", None) is not None:
        return None
    return info.route.method, info.route.resource.canonical


async def test_every_route_answers_its_own_paths_in_any_order_of_registration():
    forward, backward = _router(ROUTES), _router(reversed(ROUTES))
    for route in ROUTES:
        for router in (forward, backward):
            assert await _resolved(router, route.method, route.path) == (route.method, route.path)


async def test_the_service_registers_reads_first_and_a_read_is_the_first_route_tried():
    app = web.Application()
    add_routes(app)
    methods = [r.method for r in app.router.routes()]
    first_other = next(i for i, m in enumerate(methods) if m != "GET")
    assert "GET" not in methods[first_other:]
    assert await _resolved(app.router, "GET", "/orders/{order_id}") == ("GET", "/orders/{order_id}")
