"""The API explorer at /docs: Swagger UI served from the installed `openapi-ui-bundles` package
(no CDN, nothing copied into this repository) over the service's own /openapi.json.

That package carries Swagger UI 5, which reads OpenAPI 3.1 (our document); `swagger-ui-bundle`
carries 4.15, which refuses it."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from openapi_ui_bundles.swagger_ui import static_path

from ..problems import Problem

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}
"""The package's files the page uses; nothing else of the package is served."""

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
"""Swagger UI sets inline styles and draws its icons as data: URLs; no script but ours runs."""


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "docs.html", headers={"Content-Security-Policy": CSP})


async def explorer_js(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "explorer.js", headers={"Content-Security-Policy": CSP})


async def asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise Problem("not_found", f"no asset {name[:100]!r} (the explorer serves "
                                   f"{', '.join(sorted(ASSETS))})", "name")
    return web.FileResponse(static_path / name, headers={
        "Cache-Control": "public, max-age=86400"})
