"""Each audit check passes on a clean data set made by the real actors and fails on a copy
corrupted in the one way it exists to catch."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from delivery.audit.run import audit_data_dir
from delivery.payment.simulated import SimulatedProvider
from delivery.persistence.db import FILE_NAME, Database
from tests.conftest import ROOT
from tests.integration.conftest import World, start_runtime

pytestmark = pytest.mark.sqlite_only  # a SQLite file's own behaviour; PostgreSQL: test_postgres_storage.py


def _settle(db: Path, timeout: float = 10.0) -> None:
    """Wait until refunds are made and every consumer has read the whole journal."""
    deadline = time.monotonic() + timeout
    with sqlite3.connect(db) as conn:
        while time.monotonic() < deadline:
            head = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0]
            behind = conn.execute("SELECT COUNT(*) FROM checkpoints WHERE name IN"
                                  " ('projector', 'notifier') AND seq = ?", (head,)).fetchone()[0]
            pending = conn.execute("SELECT COUNT(*) FROM order_views"
                                   " WHERE payment_status = 'refund_pending'").fetchone()[0]
            if behind == 2 and not pending:
                return
            time.sleep(0.05)
    raise AssertionError("the actors did not settle")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A data directory holding every kind of order's life; the actor system is stopped."""
    tmp = tmp_path_factory.mktemp("audit")
    runtime = start_runtime(tmp, data_dir=tmp / "data")
    try:
        w, ids = World(runtime), {}
        ids["completed"] = w.cooked()
        w.client.pick(ids["completed"], w.riders[0])
        w.client.confirm(ids["completed"], w.customer)
        ids["cancelled"] = w.place()
        w.client.pay(ids["cancelled"], w.customer)
        w.client.cancel(ids["cancelled"], w.customer)
        ids["rejected"] = w.place()
        w.client.pay(ids["rejected"], w.customer)
        w.client.reject(ids["rejected"], w.store)
        ids["accepted"] = w.place()
        w.client.pay(ids["accepted"], w.customer)
        w.client.accept(ids["accepted"], w.store)
        ids["unpaid"] = w.place()
        _settle(tmp / "data" / FILE_NAME)
        ids["store"] = w.store
    finally:
        runtime.stop()
    return tmp / "data", ids


@pytest.fixture
def data(clean, tmp_path):
    source, ids = clean
    target = tmp_path / "data"
    shutil.copytree(source, target)
    return target, ids


def sql(data_dir: Path, statement: str, params: tuple = (), ledger: bool = False) -> None:
    name = SimulatedProvider.FILE_NAME if ledger else FILE_NAME
    db = Database(data_dir / name)  # marks what it changes (a plain connection may not write views)
    try:
        db.execute(statement, params)
    finally:
        db.close()


def violations(data_dir: Path, check: str) -> list[str]:
    result = audit_data_dir(data_dir)
    return [str(v) for v in result.violations if v.check == check]


def test_a_clean_data_set_passes_every_check(data):
    data_dir, _ = data
    result = audit_data_dir(data_dir)
    assert result.ok, [str(v) for v in result.violations]
    assert result.counts["orders"] == 5 and result.counts["settled"] == 5
    assert result.counts["charges"] == 4 and result.counts["refunds"] == 2
    assert result.skipped == ["acknowledged"]  # no client's acknowledgements given


def test_every_status_a_client_was_told_is_in_the_journal(data):
    data_dir, ids = data
    seen = {ids["accepted"]: {"placed", "paid", "accepted"}, ids["rejected"]: {"rejected"}}
    result = audit_data_dir(data_dir, seen=seen)
    assert result.ok and result.counts["acknowledged"] == 2 and result.skipped == []


def test_an_acknowledged_order_or_status_missing_from_the_journal_is_a_violation(data):
    data_dir, ids = data
    seen = {ids["accepted"]: {"accepted", "cooking"}, "ord_lost": {"placed"}}
    found = {str(v) for v in audit_data_dir(data_dir, seen=seen).violations}
    assert found == {f"acknowledged: order {ids['accepted']}: a client was told 'cooking', "
                     "the journal never had it",
                     "acknowledged: order ord_lost: acknowledged to a client but not in the journal"}


def test_a_charge_for_no_paid_order_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "INSERT INTO provider_ledger VALUES (?, 'charge', 'pay_x', 22000, ?)",
        (ids["unpaid"], "2020-01-01T00:00:00.000000Z"), ledger=True)
    found = violations(data_dir, "charges")
    assert len(found) == 1 and ids["unpaid"] in found[0] and "never paid" in found[0]


def test_a_paid_order_without_a_charge_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "DELETE FROM provider_ledger WHERE order_id = ? AND kind = 'charge'",
        (ids["accepted"],), ledger=True)
    found = violations(data_dir, "charges")
    assert len(found) == 1 and "provider holds no charge" in found[0]


def test_a_refund_of_an_order_that_was_delivered_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "INSERT INTO provider_ledger VALUES (?, 'refund', 're_x', 22000, ?)",
        (ids["completed"], "2020-01-01T00:00:00.000000Z"), ledger=True)
    found = violations(data_dir, "refunds")
    assert len(found) == 1 and ids["completed"] in found[0] and "completed" in found[0]


def test_a_refund_the_provider_never_made_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "DELETE FROM provider_ledger WHERE order_id = ? AND kind = 'refund'",
        (ids["rejected"],), ledger=True)
    found = violations(data_dir, "refunds")
    assert len(found) == 1 and "provider never made" in found[0]


def test_a_paid_order_in_two_inboxes_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "INSERT INTO store_inbox SELECT 'st_other', order_id, kind, seq, received_at"
                  " FROM store_inbox WHERE order_id = ? AND kind = 'new_order'", (ids["accepted"],))
    found = violations(data_dir, "inbox")
    assert len(found) == 1 and "2 times" in found[0]


def test_a_paid_order_missing_from_its_store_inbox_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "DELETE FROM store_inbox WHERE order_id = ? AND kind = 'new_order'",
        (ids["completed"],))
    found = violations(data_dir, "inbox")
    assert len(found) == 1 and "never reached store" in found[0]


def test_an_inbox_out_of_journal_order_is_a_violation(data):
    data_dir, ids = data
    # received again at the end: the first paid order now arrives after the later ones
    sql(data_dir, "DELETE FROM store_inbox WHERE order_id = ? AND kind = 'new_order'",
        (ids["completed"],))
    sql(data_dir, "INSERT INTO store_inbox SELECT ?, order_id, 'new_order', seq, at FROM events"
                  " WHERE order_id = ? AND kind = 'OrderPaid'", (ids["store"], ids["completed"]))
    found = violations(data_dir, "inbox")
    assert len(found) == 1 and "after seq" in found[0]


def test_a_deleted_notification_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "DELETE FROM notifications WHERE order_id = ? AND kind = 'order_accepted'",
        (ids["accepted"],))
    found = violations(data_dir, "notices")
    assert len(found) == 1 and "no order_accepted notice to the customer" in found[0]


def test_a_notice_sent_twice_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "INSERT INTO notifications (id, recipient_kind, recipient_id, order_id, kind,"
                  " text, at, channel) SELECT id || '-again', recipient_kind, recipient_id,"
                  " order_id, kind, text, at, channel FROM notifications WHERE order_id = ?"
                  " AND kind = 'order_paid'", (ids["cancelled"],))
    found = violations(data_dir, "notices")
    assert any("order_paid told to the customer 2 times" in v for v in found), found


def test_a_refund_left_pending_is_stuck(data):
    data_dir, ids = data
    for statement in ("DELETE FROM events WHERE order_id = ? AND kind = 'RefundCompleted'",
                      "DELETE FROM provider_ledger WHERE order_id = ? AND kind = 'refund'"):
        sql(data_dir, statement, (ids["cancelled"],), ledger="ledger" in statement)
    found = violations(data_dir, "stuck")
    assert len(found) == 1 and ids["cancelled"] in found[0] and "refund pending" in found[0]


def test_a_consumer_behind_the_journal_is_stuck(data):
    data_dir, _ = data
    sql(data_dir, "UPDATE checkpoints SET seq = seq - 1 WHERE name = 'notifier'")
    found = violations(data_dir, "stuck")
    assert len(found) == 1 and "notifier stopped" in found[0]


def test_a_corrupted_view_is_a_violation(data):
    data_dir, ids = data
    sql(data_dir, "UPDATE order_views SET view = json_set(view, '$.total', 1) WHERE id = ?",
        (ids["accepted"],))
    found = violations(data_dir, "read_model")
    assert len(found) == 1 and "total is 1" in found[0]


def test_orders_with_recent_events_are_left_out_as_in_flight(data):
    data_dir, ids = data
    sql(data_dir, "DELETE FROM store_inbox WHERE order_id = ?", (ids["accepted"],))
    result = audit_data_dir(data_dir, grace_s=3600)
    assert result.ok and result.counts["settled"] == 0 and result.counts["in_flight"] == 5


def test_the_audit_command_prints_each_violation_and_exits_1(data):
    data_dir, ids = data
    sql(data_dir, "DELETE FROM notifications WHERE order_id = ?", (ids["unpaid"],))
    out = subprocess.run([sys.executable, "run.py", "audit", "--data-dir", str(data_dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 1, out.stdout + out.stderr
    assert lines[0].startswith(f"notices: order {ids['unpaid']}: no order_placed notice")
    assert lines[-1].startswith("audit 1 violation(s):") and "notices 1" in lines[-1]
