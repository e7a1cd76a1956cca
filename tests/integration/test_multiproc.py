"""The same business process on multiprocTCPBase: real processes, restarts and SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from delivery.actors.client import Rejected
from delivery.actors.system import PID_FILE, port_in_use, session_pids
from delivery.persistence.db import Database
from delivery.persistence.readmodel import ReadModel
from tests.conftest import ROOT, free_port

from .conftest import World, start_runtime

pytestmark = pytest.mark.multiproc


def test_the_full_lifecycle_runs_on_real_processes(multiproc_runtime):
    rt = multiproc_runtime
    w = World(rt)
    oid = w.cooked()
    assert w.client.pick(oid, w.riders[0])["status"] == "picked_up"
    assert w.client.confirm(oid, w.customer)["status"] == "completed"
    pids = {a.pid for a in rt.stats().actors}
    assert len(pids) >= 7 and os.getpid() not in pids  # every actor is its own process
    assert ReadModel(Database.shared(rt.db_path)).view(oid)["version"] == 7


def test_nothing_listens_beyond_loopback(multiproc_runtime):
    World(multiproc_runtime)
    pids = set(session_pids(multiproc_runtime.admin_sid))
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    ours = [line for line in out.splitlines() if any(f"pid={p}," in line for p in pids)]
    assert ours, "the actor processes should be listening somewhere"
    assert all(" 127.0.0.1:" in line for line in ours), ours


def test_a_stopped_system_starts_again_with_every_order_where_it_was(tmp_path):
    rt = start_runtime(tmp_path, "multiprocTCPBase")
    try:
        w = World(rt)
        cooked, paid = w.cooked(), w.place()
        w.client.pay(paid, w.customer)
    finally:
        sid = rt.admin_sid
        rt.stop()
    assert session_pids(sid) == []
    rt = start_runtime(tmp_path, "multiprocTCPBase")
    try:
        w2 = World.__new__(World)
        w2.__dict__.update(w.__dict__, runtime=rt)
        from delivery.actors.client import OrderClient

        w2.client = OrderClient(rt)
        assert w2.client.pick(cooked, w.riders[0])["status"] == "picked_up"
        assert w2.client.accept(paid, w.store)["version"] == 3
    finally:
        rt.stop()


def _drive(data_dir, port, n):
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.drive_orders", str(data_dir),
                             str(port), str(n)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    header = json.loads(proc.stdout.readline())
    acked: dict[str, str] = {}
    for line in proc.stdout:
        if line.strip() == "READY":
            break
        entry = json.loads(line)
        acked[entry["order"]] = entry["status"]
    return proc, header, acked


@pytest.mark.parametrize("kill_admin", [True, False], ids=["everything", "server-only"])
def test_after_sigkill_every_acknowledged_order_is_back_and_no_stale_admin_answers(tmp_path,
                                                                                     kill_admin):
    data_dir, port = tmp_path / "data", free_port()
    proc, header, acked = _drive(data_dir, port, 8)
    old_sid = header["sid"]
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        if kill_admin:
            for pid in session_pids(old_sid):
                os.kill(pid, signal.SIGKILL)
        else:  # the admin daemon survives its starter: the next start must clear it
            assert session_pids(old_sid), "the admin should have outlived the killed server"
            assert (data_dir / PID_FILE).exists()
        rt = start_runtime(tmp_path, "multiprocTCPBase", data_dir=data_dir,
                           **{"actors.admin_port": port})
    except BaseException:
        for pid in session_pids(old_sid):
            os.kill(pid, signal.SIGKILL)
        raise
    try:
        assert session_pids(old_sid) == []
        assert rt.admin_sid != old_sid
        model = ReadModel(Database.shared(rt.db_path))
        assert {oid: model.view(oid)["status"] for oid in acked} == acked
        from delivery.actors.client import OrderClient

        client = OrderClient(rt)
        for oid, status in acked.items():  # each can go on from where it was
            if status == "placed":
                assert client.pay(oid, header["customer"])["status"] == "paid"
            elif status == "accepted":
                assert client.start_cooking(oid, header["store"])["status"] == "cooking"
    finally:
        rt.stop()
    assert not port_in_use("127.0.0.1", port)


def test_a_killed_gateway_process_is_restarted_and_nothing_is_lost_or_charged_twice(
        multiproc_runtime):
    from delivery.actors.messages import GetPaymentStatus
    from delivery.payment.simulated import SimulatedProvider

    rt = multiproc_runtime
    w = World(rt)
    paid = w.place()
    assert w.client.pay(paid, w.customer)["status"] == "paid"
    (gateway,) = [a for a in rt.stats().actors if a.kind == "payment_gateway"]
    os.kill(gateway.pid, signal.SIGKILL)
    pending = w.place()
    answers = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # refused at once while restarting, then paid
        started = time.monotonic()
        try:
            answers.append((w.client.pay(pending, w.customer)["status"], time.monotonic() - started))
            break
        except Rejected as refused:
            assert refused.refusal.code == "payment_unavailable"
            answers.append(("unavailable", time.monotonic() - started))
            time.sleep(0.02)
    assert answers[-1][0] == "paid"
    assert all(took < 1.0 for _, took in answers)
    status = rt.call("payment", GetPaymentStatus()).result
    assert status["gateway"]["restarts"] == 1 and status["gateway"]["state"] == "up"
    (new_gateway,) = [a for a in rt.stats().actors if a.kind == "payment_gateway"]
    assert new_gateway.pid != gateway.pid
    provider = SimulatedProvider(rt.db_path)
    assert provider.charges(paid) == 1 and provider.charges(pending) == 1
    model = ReadModel(Database.shared(rt.db_path))
    assert model.view(paid)["status"] == "paid" and model.view(pending)["status"] == "paid"


def test_a_killed_store_process_is_restarted_and_receives_every_order_once_in_order(
        multiproc_runtime):
    rt = multiproc_runtime
    w = World(rt)
    first = w.place()
    w.client.pay(first, w.customer)
    model = ReadModel(Database.shared(rt.db_path))

    def received():
        return [r["order_id"] for r in model.store_inbox(w.store)]

    deadline = time.monotonic() + 5
    while received() != [first] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert received() == [first]
    store = _the_store_actor(rt)
    os.kill(store.pid, signal.SIGKILL)
    later = []
    for _ in range(3):
        oid = w.place()
        w.client.pay(oid, w.customer)
        later.append(oid)
    deadline = time.monotonic() + 10
    while received() != [first, *later] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert received() == [first, *later]
    assert _the_store_actor(rt, not_pid=store.pid).pid != store.pid


def _the_store_actor(rt, not_pid: int | None = None, seconds: float = 10.0):
    """The one live store actor, as the statistics list it. They are gathered with a time limit
    (a busy actor may be left out of one gathering), so ask again until it is there."""
    deadline = time.monotonic() + seconds
    while True:
        stores = [a for a in rt.stats().actors if a.kind == "store" and a.pid != not_pid]
        if len(stores) == 1 or time.monotonic() > deadline:
            (store,) = stores
            return store
        time.sleep(0.05)
