"""The API explorer at /docs: Swagger UI from the installed openapi-ui-bundles package, rendering
this service's OpenAPI document in a real headless Chromium, with nothing fetched elsewhere."""

from __future__ import annotations

import pytest

from delivery.http.routes import ROUTES
from tests.e2e.test_admin_console import CHROMIUM, FLAGS

from .conftest import make_api

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")


async def test_the_explorer_assets_come_from_the_installed_package(aiohttp_client, tmp_path):
    api = await make_api(aiohttp_client, tmp_path)
    r = await api.http.get("/docs")
    assert r.status == 200 and "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "/docs/assets/swagger-ui-bundle.js" in await r.text()
    r = await api.http.get("/docs/assets/swagger-ui-bundle.js")
    assert r.status == 200 and len(await r.read()) > 500_000
    r, problem = await api.json("GET", "/docs/assets/..%2F..%2F__init__.py", status=404)
    assert problem["code"] == "not_found" and problem["field"] == "name"


async def test_the_explorer_renders_every_path_of_the_api_in_chromium(aiohttp_server, tmp_path):
    from playwright.async_api import async_playwright

    from delivery.http.app import create_app
    from tests.conftest import make_settings

    from .conftest import ADMIN

    server = await aiohttp_server(create_app(make_settings(tmp_path / "data"), ADMIN))
    origin = str(server.make_url("/")).rstrip("/")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            elsewhere: list[str] = []
            page.on("request", lambda req: None if req.url.startswith(origin) or
                    req.url.startswith("data:") else elsewhere.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{origin}/docs")
            await page.wait_for_selector(".opblock-summary-path", timeout=20_000)
            shown = set(await page.locator(".opblock-summary-path").evaluate_all(
                "els => els.map(e => e.getAttribute('data-path'))"))
            assert {r.path for r in ROUTES} <= shown
            assert "delivery" in (await page.inner_text(".info .title")).lower()
            # try one request from the page: the health check answers through the explorer
            await page.click("#operations-operations-get_health .opblock-summary")
            await page.click("#operations-operations-get_health .try-out__btn")
            await page.click("#operations-operations-get_health .execute")
            await page.wait_for_selector("#operations-operations-get_health .response-col_status")
            assert '"ok"' in await page.inner_text("#operations-operations-get_health .responses-table")
            assert not elsewhere and not errors, (elsewhere, errors)
        finally:
            await browser.close()
