"""GET /admin/api/cluster: this node, the leases it holds, each lease's lag; admin only."""

from __future__ import annotations

import asyncio
import time

from tests.e2e.conftest import ADMIN


async def view_when(api, condition, within: float = 10.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        _, view = await api.json("GET", "/admin/api/cluster", ADMIN, status=200)
        if condition(view) or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.05)


async def test_one_node_holds_every_lease_and_no_consumer_lags_once_quiet(api, storage):
    c_id, ctoken = await api.customer()
    s_id, stoken = await api.store()
    oid = await api.cooked(ctoken, s_id, stoken)
    assert oid
    view = await view_when(api, lambda v: all(not lease["lag"] for lease in v["leases"])
                           and all(lease["holder"] for lease in v["leases"]))
    assert view["storage"] == ("postgresql" if storage else "sqlite")
    assert view["store_partitions"] == 8 and len(view["leases"]) == 4 + 8
    [node] = [n for n in view["nodes"] if n["this_node"]]
    assert node["name"] == view["node"] and node["alive"] and node["session"]
    assert sorted(node["leases"]) == sorted(lease["name"] for lease in view["leases"])
    assert {lease["holder"] for lease in view["leases"]} == {view["node"]}
    assert all(not lease["lag"] for lease in view["leases"]), view["leases"]


async def test_the_cluster_view_needs_the_admin_token(api):
    await api.json("GET", "/admin/api/cluster", status=401)
    await api.json("GET", "/admin/api/cluster", "not-the-admin-token", status=401)
