"""Slow and idle clients over real sockets: stalled headers, a slow body and an idle keep-alive
connection are cut off after their timeouts; an aborted upload is the client's error, not a 500."""

from __future__ import annotations

import asyncio
import logging

import pytest

from delivery.http.app import create_app
from tests.conftest import make_settings

from .conftest import ADMIN
from .served import Served

TIMEOUT_S = 0.5
BOUND_S = 5.0  # far above TIMEOUT_S, far below the defaults (15 s, 10 s) and aiohttp's 3630 s


@pytest.fixture
async def server(tmp_path):
    """The app served as `run.py serve` serves it, with short client timeouts."""
    settings = make_settings(tmp_path / "data", **{"server.keepalive_timeout_s": TIMEOUT_S,
                                                   "server.body_timeout_s": TIMEOUT_S})
    served = await Served(create_app(settings, ADMIN)).start()
    yield served
    await served.close()


async def connect(server: Served):
    return await asyncio.open_connection(server.host, server.port)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (within BOUND_S)."""
    chunks = []
    while chunk := await asyncio.wait_for(reader.read(65536), BOUND_S):
        chunks.append(chunk)
    return b"".join(chunks)


def post_head(length: int) -> bytes:
    return (b"POST /customers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


async def test_a_client_that_stalls_in_its_headers_is_disconnected(server):
    reader, writer = await connect(server)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: half a head
        await writer.drain()
        assert await read_until_closed(reader) == b""
    finally:
        writer.close()


async def test_a_client_that_trickles_its_headers_is_disconnected_all_the_same(server):
    reader, writer = await connect(server)
    try:
        writer.write(b"GET /health HTTP/1.1\r\n")
        for i in range(int(BOUND_S / 0.1)):  # a header line every 100 ms would last 5 s
            if reader.at_eof():
                break
            writer.write(b"X-Slow-%d: 1\r\n" % i)
            await writer.drain()
            await asyncio.sleep(0.1)
        assert await read_until_closed(reader) == b""
    except ConnectionError:
        pass  # closed while we wrote: disconnected, as required
    finally:
        writer.close()


async def test_a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closes(server):
    reader, writer = await connect(server)
    try:
        writer.write(post_head(100) + b'{"name": "Kim"')
        await writer.drain()
        answer = await read_until_closed(reader)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"request_timeout" in answer
    finally:
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed(server):
    reader, writer = await connect(server)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        answer = await read_until_closed(reader)  # the answer, then the close when idle
        assert answer.startswith(b"HTTP/1.1 200 ") and b'"ok"' in answer
    finally:
        writer.close()


async def test_an_aborted_upload_is_a_client_error_never_a_logged_500(server, caplog):
    caplog.set_level(logging.INFO)
    reader, writer = await connect(server)
    writer.write(post_head(1000).replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
    await writer.drain()
    # "100 Continue" comes once the request is being handled: the abort hits its body read.
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND_S)).startswith(
        b"HTTP/1.1 100 ")
    writer.write(b'{"name": "K')
    await writer.drain()
    writer.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_S
    while True:
        text = await (await server.get("/metrics")).text()
        answered = [line for line in text.splitlines()
                    if line.startswith("delivery_http_requests_total") and 'route="/customers"' in line]
        if answered or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert answered and all('status="400"' in line for line in answered), answered
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("left before its body ended" in r.getMessage() for r in caplog.records)
