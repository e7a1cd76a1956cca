"""The admin console's history in a real headless Chromium: the last ten minutes as charts
(plotly.js from the installed plotly package) that move under load, the payment circuit as a
band, the actor table grouped by kind with counts, a filter and collapsible kinds, faults as
sentences, whole store names, a favicon."""

from __future__ import annotations

import asyncio
import os

import pytest

from delivery.http.app import create_app
from delivery.http.history import History
from tests.conftest import make_settings

from .conftest import ADMIN, Api
from .test_admin_console import CHROMIUM, browser  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="needs Debian's chromium (apt-get install chromium)")

LAST_X = "id => { const d = document.getElementById(id).data; return d ? +new Date(d[0].x.at(-1)) : 0; }"


def test_history_keeps_ten_minutes_of_per_second_samples():
    h = History(seconds=600)
    for i in range(700):
        h.observe("/orders", "POST", 201, 0.010)
        h.observe("/orders/{order_id}/confirm-delivery", "POST", 200, 0.002 if i % 2 else 0.050)
        h.sample(actor_messages=10 * i, refused=i // 100, circuit="open" if i == 699 else "closed",
                 now=1000.0 + i)
    cols = h.columns()
    assert len(cols["t"]) == 600 and cols["t"][0] == 1100.0  # the oldest 100 s are gone
    assert cols["orders_placed"][-1] == 1 and cols["orders_completed"][-1] == 1
    assert cols["p99_ms"][-1] == 10.0 and cols["requests"][-1] == 2  # of 2 ms and 10 ms
    assert cols["actor_messages"][-1] == 10 and cols["circuit"][-1] == "open"
    assert sum(cols["refusals"]) == 6  # refused went from 0 (at 99 s) to 6 in the kept samples
    assert h.columns(since=1698.0)["t"] == [1699.0]


async def _load(api: Api, ct: str, sid: str, st: str, rid_token: str, stop: asyncio.Event) -> int:
    """Complete order lifecycles until told to stop."""
    done = 0
    while not stop.is_set():
        oid = await api.cooked(ct, sid, st)
        await api.json("POST", f"/deliveries/{oid}/pick", rid_token, status=200)
        await api.json("POST", f"/orders/{oid}/confirm-delivery", ct, status=200)
        done += 1
    return done


async def test_the_console_charts_the_last_ten_minutes_and_they_move_under_load(
        aiohttp_server, aiohttp_client, tmp_path, browser):  # noqa: F811
    app = create_app(make_settings(tmp_path / "data"), ADMIN)
    server = await aiohttp_server(app)
    api = Api(await aiohttp_client(server))
    (_, ct), (sid, st) = await api.customer(), await api.store("Gangnam Fried Chicken Main Branch")
    _, rt = await api.rider()
    page = await browser.new_page(viewport={"width": 1280, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(str(server.make_url("/admin")))
    await page.fill("#token", ADMIN)
    await page.click("#signin")
    for chart in ("orders", "p99", "messages", "refusals"):
        await page.wait_for_selector(f"#chart-{chart} .main-svg", timeout=15_000)

    # labelled axes: a time axis with ticks, a value axis with its unit
    assert "time" in await page.text_content("#chart-orders .g-xtitle")
    assert await page.text_content("#chart-orders .g-ytitle") == "orders/s"
    assert await page.text_content("#chart-p99 .g-ytitle") == "ms"
    assert await page.locator("#chart-orders .xtick text").count() >= 2
    assert await page.locator("#chart-orders .ytick text").count() >= 2

    stop = asyncio.Event()
    load = asyncio.create_task(_load(api, ct, sid, st, rt, stop))
    try:
        first = await page.evaluate(LAST_X, "chart-orders")
        await page.wait_for_function(
            "() => { const d = document.getElementById('chart-orders').data;"
            " return d && d[1].y.some(v => v > 0); }", timeout=15_000)  # completed orders/s
        await page.wait_for_function(
            "() => document.getElementById('chart-messages').data[0].y.some(v => v > 0)")
        await page.wait_for_function(f"() => ({LAST_X})('chart-orders') > {first}")  # it moves
    finally:
        stop.set()
        completed = await load
    assert completed >= 1
    if os.environ.get("DELIVERY_SCREENSHOT"):
        await page.screenshot(path=os.environ["DELIVERY_SCREENSHOT"], full_page=True)

    # the payment circuit, opened by a failing provider, is a band behind the charts
    await api.json("POST", "/admin/api/faults", ADMIN,
                   {"target": "payment", "kind": "fail", "rate": 1.0}, status=200)
    for _ in range(6):
        _, order = await api.place(ct, sid, status=201)
        await api.json("POST", f"/orders/{order['id']}/payment", ct,
                       {"method": "card", "card_token": "tok_visa"})
    await page.wait_for_function(
        "() => (document.getElementById('chart-orders').layout.shapes || []).length > 0",
        timeout=15_000)
    assert not errors, errors


async def test_the_actor_table_groups_kinds_with_counts_filters_and_faults_read_as_sentences(
        aiohttp_server, aiohttp_client, tmp_path, browser):  # noqa: F811
    app = create_app(make_settings(tmp_path / "data"), ADMIN)
    server = await aiohttp_server(app)
    api = Api(await aiohttp_client(server))
    (_, ct), (sid, _) = await api.customer(), await api.store("Seocho Bibimbap and Kimchi Jjigae House")
    for _ in range(10):
        await api.place(ct, sid, status=201)  # ten live order actors
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(str(server.make_url("/admin")))
    assert await page.get_attribute("link[rel=icon]", "href") == "/favicon.svg"
    r = await api.http.get("/favicon.svg")
    assert r.status == 200 and r.content_type == "image/svg+xml"
    await page.fill("#token", ADMIN)
    await page.click("#signin")
    await page.wait_for_selector("#actors tr.group[data-group='order']")
    group = await page.inner_text("#actors tr.group[data-group='order']")
    assert "order" in group and "10 actors" in group
    assert await page.locator("#actors tr[data-kind='order']").count() == 0  # many: collapsed
    assert await page.locator("#actors tr[data-kind='store']").count() == 1
    await page.click("#actors tr.group[data-group='order']")
    await page.wait_for_function(
        "() => document.querySelectorAll(\"#actors tr[data-kind='order']\").length === 10")
    await page.fill("#actor-filter", "payment_gateway")
    await page.wait_for_function(
        "() => document.querySelectorAll(\"#actors tr[data-kind='order']\").length === 0")
    assert await page.locator("#actors tr[data-kind='payment_gateway']").count() == 1
    assert "order 10" in await page.inner_text("#actor-kinds")

    # the store picker shows whole names; faults are confirmed and shown as sentences
    assert "Seocho Bibimbap and Kimchi Jjigae House" in await page.inner_text("#store-id")
    width = await page.evaluate("document.getElementById('store-id').scrollWidth")
    assert width <= await page.evaluate("document.getElementById('store-id').clientWidth") + 1
    await page.click("text=Slow provider")
    assert await page.inner_text("#confirm-text") == \
        "Slow the payment provider down: every call answers 2000 ms late. Are you sure?"
    await page.click("#confirm-yes")
    await page.wait_for_selector("#faults:has-text('In force: the payment provider answers 2000 ms late.')")
    await page.click("[data-fault='store:down']")
    assert "Take the store management of Seocho Bibimbap and Kimchi Jjigae House" in \
        await page.inner_text("#confirm-text")
    await page.click("#confirm-yes")
    await page.wait_for_selector("#faults:has-text('the store management of Seocho Bibimbap')")
    assert "{" not in await page.inner_text("#faults")
