"""The web admin console in a real headless Chromium, against a running service."""

from __future__ import annotations

import os
import shutil

import pytest

from delivery.http.app import create_app
from delivery.http.keys import RUNTIME
from tests.conftest import make_settings

from .conftest import ADMIN, Api

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# CI installs Debian's chromium (.ci/run); elsewhere the test needs it too, or says why it can't run.
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield b
        finally:
            await b.close()


async def test_the_console_shows_the_tree_and_a_payment_crash_restarts_the_gateway(
        aiohttp_server, aiohttp_client, tmp_path, browser):
    app = create_app(make_settings(tmp_path / "data"), ADMIN)
    server = await aiohttp_server(app)
    api = Api(await aiohttp_client(server))
    (_, ct), (sid, _) = await api.customer(), await api.store("Gangnam Chicken")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(str(server.make_url("/admin")))

    await page.fill("#token", "not-the-token")
    await page.click("#signin")
    await page.wait_for_selector("#login-error:has-text('Wrong admin token')")
    assert await page.is_hidden("#app")

    await page.fill("#token", ADMIN)
    await page.click("#signin")
    await page.wait_for_selector("#actors tr[data-kind='payment_gateway']")
    assert await page.inner_text("#restarts") == "0"
    assert await page.locator("#actors tr[data-kind='store']").count() == 1
    assert "Gangnam Chicken" in await page.inner_text("#store-id")
    await page.wait_for_selector("#cluster-leases tr[data-lease='stores/7']")
    node = app[RUNTIME].node_name
    assert node in await page.inner_text("#cluster-leases tr[data-lease='notifier']")
    assert "alive" in await page.inner_text(f"#cluster-nodes tr[data-node='{node}']")
    timeline_before = await page.locator("#timeline tbody tr").all_inner_texts()

    await page.click("text=Crash payment gateway")
    await page.wait_for_selector("#confirm-yes", state="visible")
    await page.click("#confirm-yes")
    _, order = await api.place(ct, sid, status=201)  # the gateway dies on its next message
    r, data = await api.json("POST", f"/orders/{order['id']}/payment", ct,
                             {"method": "card", "card_token": "t"})
    assert r.status == 503
    await page.wait_for_selector("#restarts:has-text('1')", timeout=10_000)
    await page.wait_for_selector("#timeline td:has-text('restarted')")
    assert await page.locator("#timeline tbody tr").all_inner_texts() != timeline_before
    if os.environ.get("DELIVERY_SCREENSHOT"):
        await page.screenshot(path=os.environ["DELIVERY_SCREENSHOT"], full_page=True)

    small = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    await small.goto(str(server.make_url("/admin")))
    await small.fill("#token", ADMIN)
    await small.click("#signin")
    await small.wait_for_selector("#actors tr[data-kind='payment_gateway']")
    width = await small.evaluate("document.querySelector('main').scrollWidth")
    assert width <= 390  # wide tables scroll inside their panel; the page itself does not
