"""Two `run.py serve` nodes on one PostgreSQL database: each lease held by exactly one node, the
first node's surplus given to the second, a SIGKILLed node's leases taken over within 10 s (in
the cluster view), and every paid order in its store's inbox and every notice written once,
whichever node took the command and whichever node consumed the event."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from delivery.cluster.leases import all_leases
from delivery.tools.localhost import free_port
from tests.conftest import ROOT

pytestmark = [pytest.mark.postgres_only, pytest.mark.timeout(180)]

ADMIN = "cluster-nodes-admin-token-0123456"
LEASES = set(all_leases(8))
TAKEOVER_S = 10.0
HOME = {"lat": 37.4979, "lon": 127.0276, "text": "Gangnam-daero 396"}


class Node:
    """`python run.py serve` in its own process group, on its own data directory and port."""

    def __init__(self, data_dir, name: str) -> None:
        self.port, self.name = free_port(), name
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DELIVERY_ADMIN_TOKEN": ADMIN, "DELIVERY_CLUSTER_NODE_NAME": name,
               "DELIVERY_CLUSTER_LEASE_CHECK_INTERVAL_S": "0.2",
               "DELIVERY_CLUSTER_NODE_TIMEOUT_S": "2.0"}
        self.proc = subprocess.Popen(
            [sys.executable, "run.py", "serve", "--port", str(self.port), "--data-dir",
             str(data_dir), "--config", "config/fast-tests.toml"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def call(self, method: str, path: str, body=None, token: str | None = None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())

    def ready(self) -> bool:
        with contextlib.suppress(OSError, urllib.error.URLError):
            return self.call("GET", "/ready")["status"] == "ready"
        return False

    def view(self) -> dict:
        return self.call("GET", "/admin/api/cluster", token=ADMIN)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def start(tmp_path, storage):
    nodes: list[Node] = []

    def start_node(name: str) -> Node:
        node = Node(tmp_path / name, name)
        nodes.append(node)
        eventually(node.ready, 30)
        return node

    try:
        yield start_node
    finally:
        for node in nodes:
            node.kill()


def eventually(condition, within: float = TAKEOVER_S) -> float:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < within, "condition not reached in time"
        time.sleep(0.05)
    return time.monotonic() - began


def holders(view: dict) -> dict[str, str | None]:
    return {lease["name"]: lease["holder"] for lease in view["leases"]}


def shares(node: Node) -> dict[str, int]:
    counts: dict[str, int] = {}
    for holder in holders(node.view()).values():
        counts[holder] = counts.get(holder, 0) + 1
    return counts


def order_on(place: Node, pay: Node, ctoken: str, store_id: str) -> str:
    order = place.call("POST", "/orders", {
        "store_id": store_id, "items": [{"menu_item_id": "m1", "quantity": 1}],
        "delivery_address": HOME}, ctoken)
    pay.call("POST", f"/orders/{order['id']}/payment", {"method": "card", "card_token": "tok_visa"},
             ctoken)
    return order["id"]


def test_two_nodes_split_the_leases_and_the_survivor_takes_over_a_killed_node(start, storage):
    a = start("node-a")
    eventually(lambda: shares(a) == {"node-a": len(LEASES)})
    b = start("node-b")
    eventually(lambda: shares(b) == {"node-a": len(LEASES) // 2, "node-b": len(LEASES) // 2})
    assert set(holders(a.view())) == LEASES  # each lease held by exactly one node

    customer = a.call("POST", "/customers", {"name": "Kim", "phone": "010-1",
                                             "location": HOME})
    stores = [(a if i % 2 else b).call("POST", "/stores", {
        "name": f"Store {i}", "owner_phone": "010-2", "location": {"lat": 37.5004, "lon": 127.03},
        "menu": [{"name": "Chicken", "price": 18000}]})["id"] for i in range(6)]
    paid = [order_on(*((a, b) if i % 2 else (b, a)), customer["token"], stores[i % len(stores)])
            for i in range(12)]

    a.kill()
    took = eventually(lambda: shares(b) == {"node-b": len(LEASES)})
    assert took < TAKEOVER_S
    view = b.view()
    [dead] = [n for n in view["nodes"] if n["name"] == "node-a"]
    assert not dead["alive"] and not dead["session"] and dead["leases"] == []

    paid += [order_on(b, b, customer["token"], store) for store in stores]
    eventually(lambda: all(not lease["lag"] for lease in b.view()["leases"]))
    with psycopg.connect(storage) as conn:
        inbox = conn.execute("SELECT order_id, COUNT(*) FROM store_inbox WHERE kind = 'new_order'"
                             " GROUP BY order_id").fetchall()
        repeated = conn.execute("SELECT order_id, recipient_kind, kind, COUNT(*) FROM"
                                " notifications GROUP BY order_id, recipient_kind, kind"
                                " HAVING COUNT(*) > 1").fetchall()
        noticed = {r[0] for r in conn.execute("SELECT DISTINCT order_id FROM notifications"
                                              " WHERE recipient_kind = 'store'")}
    assert dict(inbox) == dict.fromkeys(paid, 1)  # every paid order in its inbox, once
    assert repeated == []
    assert noticed == set(paid)  # the store owner heard of each paid order
