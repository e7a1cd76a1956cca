"""Two and three nodes (separate `run.py serve` processes) sharing one PostgreSQL database: any
node serves any order, races between nodes have one winner, an idempotent retry lands on the same
entity wherever it goes, and a node killed or paused in the middle of a burst loses nothing and
writes nothing twice (issue 13)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from delivery.audit.run import audit_data_dir, summary
from delivery.loadtest.service import SpawnedService

pytestmark = [pytest.mark.postgres_only, pytest.mark.timeout(240)]

FLOW = ["placed", "paid", "accepted", "cooking", "cooked", "picked_up", "completed"]
HOME = {"lat": 37.4979, "lon": 127.0276, "text": "Gangnam-daero 396"}
NEAR = {"lat": 37.4990, "lon": 127.0290}
CARD = {"method": "card", "card_token": "tok_visa"}


class Node:
    """One node's HTTP client: `call` returns (status, JSON body) and never raises on a status."""

    def __init__(self, service: SpawnedService, session: aiohttp.ClientSession) -> None:
        self.service, self.session = service, session

    async def call(self, method: str, path: str, token: str | None = None, body=None,
                   **headers: str) -> tuple[int, dict]:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.service.url + path, json=body,
                                        headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def ok(self, method: str, path: str, token: str | None = None, body=None,
                 status: int = 200, **headers: str) -> dict:
        got, data = await self.call(method, path, token, body, **headers)
        assert got == status, (method, path, got, data)
        return data

    async def customer(self, name: str = "Kim") -> str:
        return (await self.ok("POST", "/customers", body={
            "name": name, "phone": "010-1", "location": HOME}, status=201))["token"]

    async def store(self, name: str = "Chicken") -> tuple[str, str]:
        d = await self.ok("POST", "/stores", body={
            "name": name, "owner_phone": "010-2", "location": {"lat": 37.5004, "lon": 127.03},
            "menu": [{"name": "Fried chicken", "price": 18000}]}, status=201)
        return d["id"], d["token"]

    async def rider(self, name: str = "Lee") -> str:
        return (await self.ok("POST", "/riders", body={
            "name": name, "phone": "010-3", "location": NEAR}, status=201))["token"]

    async def place(self, ctoken: str, store_id: str, **headers: str) -> tuple[int, dict]:
        return await self.call("POST", "/orders", ctoken, {
            "store_id": store_id, "items": [{"menu_item_id": "m1", "quantity": 1}],
            "delivery_address": HOME}, **headers)


class Cluster:
    """Nodes started on one database (the test's DELIVERY_STORAGE_URL); each is SIGKILLed at the
    end, also when the test fails, and a paused one is resumed first."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.services = tmp, []
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def start(self, count: int, **env: str) -> list[Node]:
        for i in range(len(self.services), len(self.services) + count):
            (self.tmp / f"node-{i}").mkdir()
            self.services.append(SpawnedService(self.tmp / f"node-{i}", "config/fast-tests.toml"))
            self.services[-1].env.update(env)
        await asyncio.gather(*(s.start() for s in self.services[-count:]))
        return [Node(s, self.session) for s in self.services]

    def stop(self) -> None:
        """SIGTERM the nodes still running (so nothing is in flight for the audit)."""
        for s in self.services:
            if s.proc.poll() is None:
                assert s.stop() == 0

    async def close(self) -> None:
        for s in self.services:
            s.resume()
            s.kill()
        await self.session.close()


@pytest.fixture
async def cluster(tmp_path, storage):
    nodes = Cluster(tmp_path)
    try:
        yield nodes
    finally:
        await nodes.close()


def audited(storage: str, seen: dict[str, set[str]] | None = None):
    result = audit_data_dir(storage, seen=seen)
    assert result.ok, "\n".join(map(str, result.violations)) + "\n" + summary(result)
    return result


async def settled(storage: str, seen: dict[str, set[str]], timeout: float = 40.0) -> None:
    """Wait, nodes still running, until the audit is clean: a charge whose node died (or lost its
    session) before recording the payment is recorded by a survivor's reconciler, but only once
    the ordinary answer could no longer come (2 x payment.call_timeout + actors.reply_timeout)."""
    deadline = time.monotonic() + timeout
    while not (await asyncio.to_thread(audit_data_dir, storage, 0.0, seen)).ok and \
            time.monotonic() < deadline:
        await asyncio.sleep(1.0)


async def test_one_orders_commands_alternate_between_nodes(cluster, storage):
    a, b = await cluster.start(2)
    ctoken, (sid, stoken), rtoken = await a.customer(), await b.store(), await a.rider()
    _, order = await b.place(ctoken, sid)
    oid = order["id"]
    steps = [(f"/orders/{oid}/payment", ctoken, CARD), (f"/stores/{sid}/orders/{oid}/accept", stoken, None),
             (f"/stores/{sid}/orders/{oid}/start-cooking", stoken, None),
             (f"/stores/{sid}/orders/{oid}/finish-cooking", stoken, None),
             (f"/deliveries/{oid}/pick", rtoken, None), (f"/orders/{oid}/confirm-delivery", ctoken, None)]
    for k, (path, token, body) in enumerate(steps):
        node = (a, b)[k % 2]
        view = await node.ok("POST", path, token, body)
        assert view["status"] == FLOW[k + 1]
    for node in (a, b):
        read = await eventually(lambda n=node: n.ok("GET", f"/orders/{oid}", ctoken),
                                lambda v: v["status"] == "completed")
        assert [h["status"] for h in read["history"]] == FLOW
    cluster.stop()
    audited(storage)


async def test_riders_on_three_nodes_race_for_one_order_and_one_wins(cluster, storage):
    nodes = await cluster.start(3)
    a = nodes[0]
    ctoken, (sid, stoken) = await a.customer(), await a.store()
    riders = [await node.rider(f"R{i}") for i, node in enumerate(nodes)]
    for _ in range(4):
        _, order = await a.place(ctoken, sid)
        oid = order["id"]
        await a.ok("POST", f"/orders/{oid}/payment", ctoken, CARD)
        for step in ("accept", "start-cooking", "finish-cooking"):
            await a.ok("POST", f"/stores/{sid}/orders/{oid}/{step}", stoken)
        answers = await asyncio.gather(*(node.call("POST", f"/deliveries/{oid}/pick", rt)
                                         for node, rt in zip(nodes, riders, strict=True)))
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200, 409, 409], answers
        assert sorted(body.get("code", "") for _, body in answers) == \
            ["", "already_picked", "already_picked"]
    cluster.stop()
    audited(storage)


async def test_an_idempotent_post_retried_on_another_node_returns_the_same_entity(cluster, storage):
    a, b = await cluster.start(2)
    first = await a.ok("POST", "/customers", body={"name": "Kim", "phone": "010-1",
                                                   "location": HOME}, status=201,
                       **{"Idempotency-Key": "register-kim"})
    again = await b.ok("POST", "/customers", body={"name": "Kim", "phone": "010-1",
                                                   "location": HOME}, status=409,
                       **{"Idempotency-Key": "register-kim"})
    assert again["code"] == "already_registered" and again["id"] == first["id"]
    sid, _ = await a.store()
    status, placed = await a.place(first["token"], sid, **{"Idempotency-Key": "order-1"})
    assert status == 201
    status, retried = await b.place(first["token"], sid, **{"Idempotency-Key": "order-1"})
    assert status == 201 and retried["id"] == placed["id"]
    _, mine = await b.call("GET", "/customers/me/orders", first["token"])
    assert [o["id"] for o in mine["orders"]] == [placed["id"]]


class Burst:
    """Customers, each bound to one node and one store of its own (a store's inbox lists at most
    500 orders), placing and paying for orders (every other one also accepted by its store) and
    noting what each node acknowledged."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.parties: list[tuple[str, str, str]] = []  # (customer token, store id, store token)
        self.acked: dict[str, str] = {}
        self.owner: dict[str, int] = {}  # order id -> its customer
        self.by_node: Counter[int] = Counter()
        self.running = True

    async def register(self, customers: int) -> None:
        for i in range(customers):
            node = self.nodes[i % len(self.nodes)]
            self.parties.append((await node.customer(f"C{i}"), *await node.store(f"S{i}")))

    def seen(self) -> dict[str, set[str]]:
        return {oid: set(FLOW[:FLOW.index(status) + 1]) for oid, status in self.acked.items()}

    async def customer(self, i: int) -> None:
        k, (ctoken, sid, stoken) = i % len(self.nodes), self.parties[i]
        node = self.nodes[k]
        while self.running:
            try:
                status, order = await node.place(ctoken, sid)
                if status != 201:  # refused (overloaded, rate limited): as a client would, wait
                    await asyncio.sleep(0.1)
                    continue
                oid = order["id"]
                self.acked[oid], self.owner[oid] = "placed", i
                self.by_node[k] += 1
                status, _ = await node.call("POST", f"/orders/{oid}/payment", ctoken, CARD)
                if status == 200:
                    self.acked[oid] = "paid"
                if i % 2 and status == 200:
                    status, _ = await node.call("POST", f"/stores/{sid}/orders/{oid}/accept", stoken)
                    if status == 200:
                        self.acked[oid] = "accepted"
            except (TimeoutError, aiohttp.ClientError):
                return  # the node is gone

    def run(self) -> asyncio.Future:
        return asyncio.gather(*(self.customer(i) for i in range(len(self.parties))))


async def eventually(read, ok, timeout: float = 20.0):
    """The first read that `ok` accepts, polling until `timeout` (then the last read)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if ok(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def assert_delivered_once(node: Node, burst: Burst) -> None:
    """Every acknowledged order readable at its acknowledged status or later; every paid one in
    its store's inbox exactly once; each customer's notifications each once."""
    for oid, status in burst.acked.items():
        ctoken = burst.parties[burst.owner[oid]][0]
        view = await eventually(lambda o=oid, t=ctoken: node.ok("GET", f"/orders/{o}", t),
                                lambda v, s=status: FLOW.index(v["status"]) >= FLOW.index(s))
        assert FLOW.index(view["status"]) >= FLOW.index(status), (oid, status, view["status"])
    for i, (ctoken, sid, stoken) in enumerate(burst.parties):
        paid = {oid for oid, status in burst.acked.items()
                if status != "placed" and burst.owner[oid] == i}

        async def inbox(sid=sid, stoken=stoken) -> list[str]:
            got, cursor = [], ""
            while True:  # every page: a burst brings a store more than one page of orders
                data = await node.ok("GET", f"/stores/{sid}/inbox?cursor={cursor}", stoken)
                got += [x["order_id"] for x in data["received"] if x["kind"] == "new_order"]
                if not (cursor := data["next_cursor"]):
                    return got

        received = await eventually(inbox, lambda got, paid=paid: paid <= set(got))
        assert paid <= set(received), f"{len(paid - set(received))} paid orders not in {sid}'s inbox"
        assert len(received) == len(set(received)), f"an order reached {sid}'s inbox twice"
        notices = (await node.ok("GET", "/customers/me/notifications", ctoken))["notifications"]
        ids = [n["id"] for n in notices]
        assert len(ids) == len(set(ids)), "a notification was written twice"


async def test_sigkill_of_a_node_mid_burst_loses_no_acknowledged_order(cluster, storage):
    nodes = await cluster.start(3)
    burst = Burst(nodes)
    await burst.register(9)
    running = burst.run()
    await asyncio.sleep(2.0)
    killed_at = dict(burst.by_node)
    dead = (await nodes[0].ok("GET", "/admin/api/cluster", nodes[0].service.token))["node"]
    cluster.services[0].kill()
    killed = time.monotonic()
    # Its leases are held by the survivors again, as the cluster view shows, within 10 s.
    while True:
        view = await nodes[1].ok("GET", "/admin/api/cluster", nodes[1].service.token)
        holders = {lease["holder"] for lease in view["leases"]}
        if dead not in holders and None not in holders:
            break
        assert time.monotonic() - killed < 10, f"leases not taken over in 10 s: {view['leases']}"
        await asyncio.sleep(0.1)
    assert not next(n for n in view["nodes"] if n["name"] == dead)["alive"]
    await asyncio.sleep(3.0)  # the survivors keep taking orders
    burst.running = False
    await asyncio.wait_for(running, 30)
    assert killed_at.get(0, 0) >= 3, "the killed node should have taken orders"
    assert burst.by_node[1] + burst.by_node[2] > killed_at.get(1, 0) + killed_at.get(2, 0), \
        "the survivors took no orders after the kill"
    for survivor in nodes[1:]:
        await assert_delivered_once(survivor, burst)
    await settled(storage, burst.seen())
    cluster.stop()
    audited(storage, burst.seen())


async def test_a_node_paused_for_20s_neither_stops_the_others_nor_writes_twice(cluster, storage):
    nodes = await cluster.start(3)
    burst = Burst(nodes)
    await burst.register(9)
    running = burst.run()
    await asyncio.sleep(1.5)
    cluster.services[0].pause()  # mid-burst: it may hold the write lock in an open transaction
    try:
        paused_at = burst.by_node[1] + burst.by_node[2]
        await asyncio.sleep(20.0)
        during = burst.by_node[1] + burst.by_node[2] - paused_at
    finally:
        cluster.services[0].resume()
    assert during >= 20, f"the others took only {during} orders in the 20 s pause"
    await asyncio.sleep(3.0)  # the resumed node finishes what it had and takes orders again
    resumed = burst.by_node[0]
    await asyncio.sleep(2.0)
    burst.running = False
    await asyncio.wait_for(running, 60)
    assert burst.by_node[0] > resumed, "the resumed node takes orders again"
    for node in nodes:
        await assert_delivered_once(node, burst)
    await settled(storage, burst.seen())
    cluster.stop()
    audited(storage, burst.seen())


async def test_a_stream_on_one_node_hears_of_a_change_made_on_another_at_once(cluster, storage):
    # The streams' poll is slowed to 30 s: only the other node's NOTIFY can bring the change.
    a, b = await cluster.start(2, DELIVERY_STREAMS_POLL_INTERVAL_MS="30000")
    ctoken, (sid, _) = await a.customer(), await b.store()
    _, order = await b.place(ctoken, sid)
    oid = order["id"]
    async with a.session.get(a.service.url + f"/orders/{oid}/events",
                             headers={"Authorization": f"Bearer {ctoken}"}) as stream:
        assert stream.status == 200

        async def statuses():
            async for raw in stream.content:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    yield json.loads(line[5:])["status"]
        seen = statuses()
        assert await asyncio.wait_for(anext(seen), 10) == "placed"
        paid_at = time.monotonic()
        await b.ok("POST", f"/orders/{oid}/payment", ctoken, CARD)
        assert await asyncio.wait_for(anext(seen), 10) == "paid"
        assert time.monotonic() - paid_at < 5, "the change came by polling, not by NOTIFY"
