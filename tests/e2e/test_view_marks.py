"""The front door remembers the order views it answered (issue 16), yet every step of an
order, written by the actor process (a child process of its own), shows at the customer's,
the store's and the rider's very next read with the memory warm: a command's reply is never
followed by the view from before it."""

from __future__ import annotations

from delivery.actors.host import ActorProcess
from delivery.http.keys import READS, RUNTIME

from .conftest import ADMIN, make_api
from .test_errors_and_access import problem

WARM = 4


async def test_every_step_written_by_the_actor_process_shows_at_the_next_read(
        aiohttp_client, tmp_path, storage):
    api = await make_api(aiohttp_client, tmp_path, **{"actors.own_process": True})
    assert isinstance(api.http.app[RUNTIME], ActorProcess)  # the views are another process's
    (_, ct), (sid, st), (rid, rt) = await api.customer(), await api.store(), await api.rider()
    _, placed = await api.place(ct, sid, status=201)
    oid = placed["id"]
    steps = [(ct, f"/orders/{oid}/payment", {"method": "card", "card_token": "tok_visa"},
              "paid"),
             (st, f"/stores/{sid}/orders/{oid}/accept", None, "accepted"),
             (st, f"/stores/{sid}/orders/{oid}/start-cooking", None, "cooking"),
             (st, f"/stores/{sid}/orders/{oid}/finish-cooking", None, "cooked"),
             (rt, f"/deliveries/{oid}/pick", None, "picked_up"),
             (ct, f"/orders/{oid}/confirm-delivery", None, "completed")]
    status = "placed"
    for token, path, body, then in steps:
        for reader in (ct, st, rt) if status == "picked_up" else (ct, st):
            for _ in range(WARM):  # answered from memory after the first
                _, seen = await api.json("GET", f"/orders/{oid}", reader, status=200)
                assert seen["status"] == status
        await api.json("POST", path, token, body, status=200)
        status = then
        _, seen = await api.json("GET", f"/orders/{oid}", ct, status=200)
        assert seen["status"] == status, path
        _, seen = await api.json("GET", f"/orders/{oid}", st, status=200)
        assert seen["status"] == status, path
        if status in ("picked_up", "completed"):  # the rider may read it once it is theirs
            _, seen = await api.json("GET", f"/orders/{oid}", rt, status=200)
            assert seen["status"] == status and seen["rider_id"] == rid, path
    # remembered all along on SQLite (change marks); PostgreSQL reads the view every time
    assert (oid in api.http.app[READS]._shown) == (not storage)


async def test_a_rider_unassigned_by_the_admin_loses_the_order_at_the_next_read(
        aiohttp_client, tmp_path):
    """Who may read an order comes with its remembered view: the unassignment's write marks it,
    so the rider's next read is refused like any stranger's."""
    api = await make_api(aiohttp_client, tmp_path, **{"actors.own_process": True})
    (_, ct), (sid, st), (_, rt) = await api.customer(), await api.store(), await api.rider()
    oid = await api.cooked(ct, sid, st)
    await api.json("POST", f"/deliveries/{oid}/pick", rt, status=200)
    for _ in range(WARM):
        await api.json("GET", f"/orders/{oid}", rt, status=200)
    await api.json("POST", f"/admin/api/orders/{oid}/unassign", ADMIN, status=200)
    _, data = await api.json("GET", f"/orders/{oid}", rt)
    problem(data, "not_found", 404)
    _, seen = await api.json("GET", f"/orders/{oid}", ct, status=200)
    assert seen["status"] == "cooked" and seen["rider_id"] is None
