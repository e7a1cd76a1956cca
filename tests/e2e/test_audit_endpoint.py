"""GET /admin/api/audit runs the audit's checks on the live service's database."""

from __future__ import annotations

import asyncio
import time

from delivery.persistence.db import Database
from tests.conftest import db_url
from tests.e2e.conftest import ADMIN

ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


async def settled(api) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, stats = await api.json("GET", "/admin/api/stats", headers=dict(ADMIN_AUTH))
        if not any(stats["outbox"].values()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the outbox did not drain: {stats['outbox']}")


async def lived_orders(api, parties) -> None:
    (_, ct), (sid, st) = parties["c1"], parties["s1"]
    for step in ("cancel", "reject", None):
        _, order = await api.place(ct, sid, status=201)
        oid = order["id"]
        await api.json("POST", f"/orders/{oid}/payment", ct,
                       {"method": "card", "card_token": "tok_visa"}, status=200)
        if step == "cancel":
            await api.json("POST", f"/orders/{oid}/cancel", ct, {"reason": "x"}, status=200)
        elif step == "reject":
            await api.json("POST", f"/stores/{sid}/orders/{oid}/reject", st, {"reason": "x"},
                           status=200)
    await settled(api)


async def test_the_audit_of_a_settled_service_is_clean(api, parties):
    await lived_orders(api, parties)
    _, result = await api.json("GET", "/admin/api/audit?grace_s=0", headers=dict(ADMIN_AUTH),
                               status=200)
    assert result["ok"] is True and result["violations"] == []
    assert result["counts"]["orders"] == 3 and result["counts"]["refunds"] == 2
    assert result["summary"].startswith("audit clean")


async def test_the_audit_reports_a_lost_notice_of_the_live_database(api, parties, tmp_path):
    await lived_orders(api, parties)
    db = Database(db_url(tmp_path / "data"))
    with db.transaction() as conn:
        conn.execute("DELETE FROM notifications WHERE kind = 'refund_completed'"
                     " AND recipient_kind = 'store'")
    db.close()
    _, result = await api.json("GET", "/admin/api/audit?grace_s=0", headers=dict(ADMIN_AUTH),
                               status=200)
    assert result["ok"] is False and result["violations_by_check"]["notices"] == 2
    assert all("no refund_completed notice to the store" in v for v in result["violations"])


async def test_a_bad_grace_is_a_problem_naming_the_field(api):
    for bad in ("soon", "-1", "nan"):
        _, problem = await api.json("GET", f"/admin/api/audit?grace_s={bad}",
                                    headers=dict(ADMIN_AUTH), status=400)
        assert problem["code"] == "invalid_query" and problem["field"] == "grace_s"


async def test_the_audit_needs_the_admin_token(api):
    _, problem = await api.json("GET", "/admin/api/audit", status=401)
    assert problem["code"] == "unauthorized"
