"""The web admin console approves a pending store after a confirmation (real headless Chromium)."""

from __future__ import annotations

from delivery.http.app import create_app
from tests.conftest import make_settings

from .conftest import ADMIN, Api
from .test_admin_console import browser, pytestmark  # noqa: F401  (fixture and skip rule)


async def test_the_console_lists_a_pending_store_and_approves_it_after_confirmation(
        aiohttp_server, aiohttp_client, tmp_path, browser):  # noqa: F811
    app = create_app(make_settings(tmp_path / "data", **{"onboarding.auto_approve": False}), ADMIN)
    server = await aiohttp_server(app)
    api = Api(await aiohttp_client(server))
    sid, _ = await api.store("Pending Pizza")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(str(server.make_url("/admin")))
    await page.fill("#token", ADMIN)
    await page.click("#signin")
    row = f"#onboarding tr[data-id='{sid}']"
    await page.wait_for_selector(row)
    assert "pending" in await page.inner_text(row)
    await page.click(f"{row} button[data-onboard='approve']")
    await page.wait_for_selector("#onboard-yes", state="visible")
    assert "Pending Pizza" in await page.inner_text("#onboard-confirm-text")
    _, listed = await api.json("GET", "/stores", status=200)
    assert listed["stores"] == []  # nothing happens before the confirmation
    await page.click("#onboard-yes")
    await page.wait_for_selector(row, state="detached")
    _, listed = await api.json("GET", "/stores", status=200)
    assert [s["id"] for s in listed["stores"]] == [sid]
    assert "Pending Pizza" in await page.inner_text("#store-id")
