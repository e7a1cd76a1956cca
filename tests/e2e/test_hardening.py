"""Safe to expose: security headers, the Host check, required Content-Type, control characters."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import subprocess
import sys

import pytest

from delivery.http.app import create_app
from tests.conftest import ROOT, make_settings

from .conftest import ADMIN, HOME
from .served import Served

PERSONAL = ["/customers/me/orders", "/customers/me/notifications", "/riders/me/deliveries/available"]


async def test_every_response_says_nosniff_and_no_server_version(api, parties):
    ct = parties["c1"][1]
    answers = [await api.http.get("/health"), await api.http.get("/stores"),
               await api.http.get("/no/such/thing"), await api.http.get("/orders/x"),
               await api.http.get("/customers/me/orders", headers={"Authorization": f"Bearer {ct}"}),
               await api.http.get("/admin"), await api.http.delete("/orders")]
    for r in answers:
        assert r.headers["X-Content-Type-Options"] == "nosniff", r.url
        assert r.headers["Server"] == "delivery", r.url
        assert not re.search(r"\d", r.headers["Server"])


async def test_a_stream_and_a_refused_body_carry_the_headers_too(api, parties):
    """The order's event stream sends its headers before its handler returns, and a body too
    large is refused before any handler runs: both still carry every security header."""
    ct, sid = parties["c1"][1], parties["s1"][0]
    _, order = await api.place(ct, sid, status=201)
    async with api.http.get(f"/orders/{order['id']}/events", headers={
            "Authorization": f"Bearer {ct}", "X-Request-Id": "watch-1"}) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Server"] == "delivery"
        assert r.headers["Cache-Control"] == "no-store"  # an order is personal
        assert r.headers["X-Request-Id"] == "watch-1"
    r = await api.http.post("/orders", data=b"x" * (65 * 1024), headers={
        "Authorization": f"Bearer {ct}", "Content-Type": "application/json"})
    assert r.status == 413 and (await r.json(content_type=None))["code"] == "body_too_large"
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Request-Id"]
    assert r.headers["Cache-Control"] == "no-store"


async def test_personal_data_and_the_admin_api_are_never_cached(api, parties):
    ct, rt = parties["c1"][1], parties["r1"][1]
    sid, st = parties["s1"]
    _, order = await api.place(ct, sid, status=201)
    await api.json("PUT", "/riders/me/location", rt, {"lat": HOME["lat"], "lon": HOME["lon"]},
                   status=200)
    reads = [("/customers/me/orders", ct), ("/customers/me/notifications", ct),
             (f"/orders/{order['id']}", ct), (f"/stores/{sid}/orders", st),
             (f"/stores/{sid}/notifications", st), ("/riders/me/deliveries/available", rt),
             ("/admin/api/stats", ADMIN), ("/admin/api/actors", ADMIN)]
    for path, token in reads:
        r, _ = await api.json("GET", path, token, status=200)
        assert r.headers["Cache-Control"] == "no-store", path
    r, _ = await api.json("POST", "/customers", body={
        "name": "Han", "phone": "010-9", "location": {"lat": 37.5, "lon": 127.0}}, status=201)
    assert r.headers["Cache-Control"] == "no-store"  # it carries a token
    r, _ = await api.json("GET", f"/stores/{sid}/menu", status=200)
    assert "Cache-Control" not in r.headers  # the public catalogue may be cached


async def test_the_admin_page_runs_only_its_own_script_and_cannot_be_framed(api):
    r = await api.http.get("/admin")
    csp = {d.split()[0]: d.split()[1:] for d in r.headers["Content-Security-Policy"].split("; ")}
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    page = await r.text()
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    assert scripts and all(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        in csp["script-src"] for s in scripts)
    # Inline event handlers would need 'unsafe-inline' too: the page wires its buttons in script.
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page)
    assert r.headers["Cache-Control"] == "no-store"


async def test_a_401_says_bearer_and_a_405_says_what_is_allowed(api):
    r = await api.http.get("/customers/me/orders")
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = await api.http.get("/admin/api/stats", headers={"Authorization": "Bearer wrong"})
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = await api.http.delete("/orders")
    assert r.status == 405 and r.headers["Allow"] == "POST"
    r = await api.http.put("/orders/x")
    assert r.status == 405 and r.headers["Allow"] == "GET"


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:1",
                                  "[::1]", "[::1]:8080", "LOCALHOST."])
async def test_loopback_host_names_are_answered(api, host):
    r = await api.http.get("/health", headers={"Host": host})
    assert r.status == 200, host


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "[::2]"])
async def test_a_foreign_host_name_is_misdirected(api, parties, host):
    r = await api.http.get("/health", headers={"Host": host})
    data = await r.json(content_type=None)
    assert r.status == 421 and data["code"] == "host_not_allowed" and data["field"] == "Host"
    r = await api.http.get("/customers/me/orders", headers={
        "Host": host, "Authorization": f"Bearer {parties['c1'][1]}"})
    assert r.status == 421  # before any token or data is looked at


async def test_configured_hosts_are_answered_and_star_answers_any(aiohttp_client, tmp_path):
    settings = make_settings(tmp_path / "a", **{"server.allowed_hosts": ["delivery.internal"]})
    client = await aiohttp_client(create_app(settings, ADMIN))
    assert (await client.get("/health", headers={"Host": "delivery.internal:80"})).status == 200
    assert (await client.get("/health", headers={"Host": "127.0.0.1"})).status == 200  # server.host
    assert (await client.get("/health", headers={"Host": "localhost"})).status == 421
    settings = make_settings(tmp_path / "b", **{"server.allowed_hosts": ["*"]})
    client = await aiohttp_client(create_app(settings, ADMIN))
    assert (await client.get("/health", headers={"Host": "anything.example"})).status == 200


async def test_a_body_without_content_type_is_refused_with_415(api, parties):
    r = await api.http.post("/customers", data=b'{"name": "Kim", "phone": "1", '
                            b'"location": {"lat": 37.5, "lon": 127.0}}', skip_auto_headers=["Content-Type"])
    data = await r.json(content_type=None)
    assert r.status == 415 and data["code"] == "unsupported_media_type", data
    assert data["field"] == "Content-Type"
    r = await api.http.post("/customers", data=b'{"name": "Kim"}',
                            headers={"Content-Type": "application/octet-stream"})
    assert r.status == 415
    ct, sid = parties["c1"][1], parties["s1"][0]
    _, order = await api.place(ct, sid, status=201)
    r = await api.http.post(f"/orders/{order['id']}/cancel", skip_auto_headers=["Content-Type"],
                            headers={"Authorization": f"Bearer {ct}"})
    assert r.status == 200  # no body, no Content-Type needed


CONTROL = ["Kim\x00", "Kim\r\nX-Injected: 1", "Kim\n", "\x1b[31mKim", "Kim\x85", "Kim\x7f",
           "Kim\u202eredro", "\u2066Kim\u2069", "Kim\u2028Park", "Ki\tm"]


@pytest.mark.parametrize("text", CONTROL, ids=range(len(CONTROL)))
async def test_control_and_bidi_characters_in_names_phones_and_addresses_are_refused(
        api, parties, text):
    where = {"lat": 37.5, "lon": 127.0}
    cases = [("/customers", None, {"name": text, "phone": "010", "location": where}, "name"),
             ("/riders", None, {"name": "Lee", "phone": text, "location": where}, "phone"),
             ("/stores", None, {"name": "S", "owner_phone": "1", "location": where,
                                "menu": [{"name": text, "price": 1}]}, "menu[0].name"),
             ("/orders", parties["c1"][1], {
                 "store_id": parties["s1"][0], "items": [{"menu_item_id": "m1", "quantity": 1}],
                 "delivery_address": {**where, "text": text}}, "delivery_address.text")]
    for path, token, body, field in cases:
        r, data = await api.json("POST", path, token, body)
        assert r.status == 422 and data["code"] == "invalid_field", (path, data)
        assert data["field"] == field and "control" in data["detail"]


async def test_cancel_and_reject_reasons_refuse_control_characters_and_null(api, parties):
    ct, (sid, st) = parties["c1"][1], parties["s1"]
    _, order = await api.place(ct, sid, status=201)
    for reason in ("changed my mind\u202e", "a\x00", None, 7):
        r, data = await api.json("POST", f"/orders/{order['id']}/cancel", ct, {"reason": reason})
        assert r.status == 422 and data["field"] == "reason", (reason, data)
        r, data = await api.json("POST", f"/stores/{sid}/orders/{order['id']}/reject", st,
                                 {"reason": reason})
        assert r.status == 422 and data["field"] == "reason", (reason, data)
    await api.json("POST", f"/orders/{order['id']}/cancel", ct, {"reason": "다른 가게로 주문 🙏"},
                   status=200)


async def test_ordinary_unicode_names_are_still_welcome(api):
    r, data = await api.json("POST", "/customers", body={
        "name": "  김민수 (Kim Min-su) ‘Ø’  ", "phone": "+82 10-1234-5678",
        "location": {"lat": 37.5, "lon": 127.0}})
    assert r.status == 201, data


@pytest.mark.parametrize("env", [{"DELIVERY_ADMIN_TOKEN": "short-secret"},
                                 {"DELIVERY_ADMIN_TOKEN": "x" * 23}])
def test_a_short_configured_admin_token_stops_serve_with_one_line_naming_the_key(tmp_path, env):
    proc = subprocess.run([sys.executable, "run.py", "serve", "--data-dir", str(tmp_path)],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "admin.token" in lines[0] and "24 characters" in lines[0], lines
    assert env["DELIVERY_ADMIN_TOKEN"] not in proc.stderr  # the secret itself is never printed


@pytest.mark.parametrize("path", ["/customers/me/orders", "/admin/api/stats", "/stores"])
async def test_a_bearer_token_that_is_not_utf8_is_a_401_or_ignored_never_a_500(tmp_path, path):
    """Header bytes that are not UTF-8 reach the app as lone surrogates: hashing the token for
    the rate limits or the holder's lookup, or comparing it with the admin token, must not fail."""
    settings = make_settings(tmp_path / "data", **{"rate_limit.enabled": True})
    served = await Served(create_app(settings, ADMIN)).start()
    try:
        reader, writer = await asyncio.open_connection(served.host, served.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
                     + b"Authorization: Bearer \xff\xfe\x80abc\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        await served.close()
    status = int(answer.split(b" ", 2)[1])
    # a public list ignores the token; everything else refuses it as unknown
    assert status == (200 if path == "/stores" else 401), answer[:300]
    assert b"Traceback" not in answer and b"nosniff" in answer
