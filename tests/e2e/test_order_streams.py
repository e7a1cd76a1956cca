"""GET /orders/{id}/events: changes pushed by one journal reader, a cap per token, the end of
a stream when the order is final, and a stream let go as soon as its client has gone."""

from __future__ import annotations

import asyncio
import json

import pytest

from delivery.http.app import create_app
from delivery.http.keys import DB, FEED, STREAMS
from tests.conftest import make_settings

from .conftest import ADMIN, Api
from .served import Served

CARD = {"method": "card", "card_token": "tok_visa"}
NEVER_MS = 3_600_000  # the feed's own timer never fires: the test ticks it


class EventStream:
    """An open SSE response read in the background into a queue of (id, view) pairs."""

    def __init__(self, response) -> None:
        self.response, self.views = response, asyncio.Queue()
        self.ended = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        event, event_id = None, None
        try:
            async for raw in self.response.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("id:"):
                    event_id = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "status":
                    self.views.put_nowait((event_id, json.loads(line[5:])))
        finally:
            self.ended.set()

    async def next(self) -> dict:
        return (await asyncio.wait_for(self.views.get(), 5))[1]

    async def close(self) -> None:
        self.reader.cancel()
        self.response.close()


async def serve(settings):
    served = await Served(create_app(settings, ADMIN)).start()
    return served, Api(served)


@pytest.fixture
async def api(tmp_path):
    """Served as `run.py serve` serves it: a handler is not cancelled when its client leaves."""
    served, api = await serve(make_settings(tmp_path / "data"))
    yield api
    await served.close()


@pytest.fixture
async def ticked(tmp_path):
    """The app with its feed's timer off, so a test decides when the journal is read."""
    served, api = await serve(make_settings(tmp_path / "data",
                                            **{"streams.poll_interval_ms": NEVER_MS}))
    yield api
    await served.close()


async def open_stream(api: Api, oid: str, token: str) -> EventStream:
    r = await api.http.get(f"/orders/{oid}/events", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    return EventStream(r)


async def eventually(condition, within_s: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_two_changes_reach_every_stream_from_one_journal_query(ticked):
    api = ticked
    (_, ct), (sid, st) = await api.customer(), await api.store()
    _, placed = await api.place(ct, sid, status=201)
    oid = placed["id"]
    streams = [await open_stream(api, oid, ct), await open_stream(api, oid, ct),
               await open_stream(api, oid, st)]
    try:
        assert [(await s.next())["status"] for s in streams] == ["placed"] * 3
        await api.json("POST", f"/orders/{oid}/payment", ct, CARD, status=200)
        await api.json("POST", f"/stores/{sid}/orders/{oid}/accept", st, status=200)
        statements: list[str] = []
        db = api.http.app[DB]
        real = db.execute

        def counted(sql, params=()):
            statements.append(sql)
            return real(sql, params)
        db.execute = counted  # on this connection alone, whichever adapter it is
        try:
            assert api.http.app[FEED].tick() == 2 * 3
        finally:
            del db.execute
        assert len(statements) == 1 and "FROM events" in statements[0]
        for s in streams:
            assert [(await s.next())["status"] for _ in range(2)] == ["paid", "accepted"]
            assert s.views.empty()
    finally:
        for s in streams:
            await s.close()


async def test_events_carry_the_order_version_as_their_id(ticked):
    api = ticked
    (_, ct), (sid, _) = await api.customer(), await api.store()
    _, placed = await api.place(ct, sid, status=201)
    stream = await open_stream(api, placed["id"], ct)
    try:
        event_id, view = await asyncio.wait_for(stream.views.get(), 5)
        assert event_id == str(view["version"]) == "1"
    finally:
        await stream.close()


async def test_a_token_beyond_its_stream_cap_gets_429_while_others_still_stream(api):
    (_, ct), (sid, st) = await api.customer(), await api.store()
    _, placed = await api.place(ct, sid, status=201)
    oid = placed["id"]
    streams = [await open_stream(api, oid, ct) for _ in range(4)]  # streams.max_per_token
    try:
        _, problem = await api.json("GET", f"/orders/{oid}/events", ct, status=429)
        assert problem["code"] == "too_many_streams"
        streams.append(await open_stream(api, oid, st))  # the store's own token is not capped
        await streams[0].close()
        await eventually(lambda: len(api.http.app[FEED].watches) == 4)
        streams.append(await open_stream(api, oid, ct))  # a freed place can be taken again
    finally:
        for s in streams:
            await s.close()


async def test_a_stream_ends_once_the_order_is_final_after_its_refund(api):
    (_, ct), (sid, _) = await api.customer(), await api.store()
    _, placed = await api.place(ct, sid, status=201)
    oid = placed["id"]
    stream = await open_stream(api, oid, ct)
    try:
        await api.json("POST", f"/orders/{oid}/payment", ct, CARD, status=200)
        await api.json("POST", f"/orders/{oid}/cancel", ct, {"reason": "changed my mind"},
                       status=200)
        await asyncio.wait_for(stream.ended.wait(), 5)
        seen = []
        while not stream.views.empty():
            seen.append(stream.views.get_nowait()[1])
        assert [(v["status"], v["payment"]["status"]) for v in seen] == [
            ("placed", "unpaid"), ("paid", "paid"), ("cancelled", "refund_pending"),
            ("cancelled", "refunded")]
        await eventually(lambda: not api.http.app[STREAMS] and not api.http.app[FEED].watches)
    finally:
        await stream.close()


async def test_a_stream_on_a_finished_order_sends_its_view_and_ends(api):
    (_, ct), (sid, _) = await api.customer(), await api.store()
    _, placed = await api.place(ct, sid, status=201)
    await api.json("POST", f"/orders/{placed['id']}/cancel", ct, {"reason": "oops"}, status=200)
    stream = await open_stream(api, placed["id"], ct)
    try:
        await asyncio.wait_for(stream.ended.wait(), 5)
        assert (await stream.next())["status"] == "cancelled" and stream.views.empty()
    finally:
        await stream.close()


async def test_a_stream_is_released_right_after_its_client_disconnects(api):
    (_, ct), (sid, _) = await api.customer(), await api.store()
    _, placed = await api.place(ct, sid, status=201)
    stream = await open_stream(api, placed["id"], ct)
    await stream.next()
    assert "delivery_sse_streams 1.0" in await (await api.http.get("/metrics")).text()
    await stream.close()
    # No change of the order follows and no ping is due: only the feed notices the client left.
    await eventually(lambda: not api.http.app[STREAMS] and not api.http.app[FEED].watches,
                     within_s=0.5)
    text = await (await api.http.get("/metrics")).text()
    assert "delivery_sse_streams 0.0" in text


async def test_changes_made_in_actor_processes_reach_the_stream_on_multiproc_tcp_base(tmp_path):
    served, api = await serve(make_settings(tmp_path / "data", "multiprocTCPBase"))
    try:
        (_, ct), (sid, st) = await api.customer(), await api.store()
        _, placed = await api.place(ct, sid, status=201)
        stream = await open_stream(api, placed["id"], ct)
        try:
            await api.json("POST", f"/orders/{placed['id']}/payment", ct, CARD, status=200)
            await api.json("POST", f"/stores/{sid}/orders/{placed['id']}/reject", st,
                           {"reason": "closed"}, status=200)
            await asyncio.wait_for(stream.ended.wait(), 10)  # rejected and refunded: final
            statuses = [stream.views.get_nowait()[1]["status"] for _ in range(stream.views.qsize())]
            assert statuses[:3] == ["placed", "paid", "rejected"]
        finally:
            await stream.close()
    finally:
        await served.close()
