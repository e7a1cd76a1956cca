"""`python run.py console` against a live `run.py serve`, read as an operator would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, free_port

OPS = "terminal-console-admin-token"


def _post(url, body, token=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@contextlib.contextmanager
def served(data_dir, **env_extra):
    """`run.py serve` on a free port with the admin token OPS; its URL while it runs."""
    port = free_port()
    env = {**os.environ, "DELIVERY_ADMIN_TOKEN": OPS, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
           **env_extra}
    proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port), "--data-dir",
                             str(data_dir), "--config", "config/fast-tests.toml"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        proc.stdout.readline()  # the banner: it is listening
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        proc.stdout.close()


@pytest.fixture
def service(tmp_path):
    with served(tmp_path / "data") as url:
        yield url


def console(url, *args, token=OPS, stdin=None):
    result = subprocess.run([sys.executable, "run.py", "console", "--url", url, "--token", token,
                             *args], cwd=ROOT, capture_output=True, text=True, input=stdin,
                            timeout=60, env={**os.environ, "COLUMNS": "160"})
    return result.returncode, result.stdout + result.stderr


def test_the_console_prints_the_picture_and_runs_commands(service):
    code, out = console(service, "--once")
    assert code == 0
    for expected in ("circuit closed", "gateway up", "payment_gateway", "payment_supervisor",
                     "projector", "registry", "notifications sent", "placed"):
        assert expected in out, expected
    assert "cluster (1 nodes)" in out and "alive" in out and "stores/7" in out
    code, out = console(service, "-c", "cluster")
    assert code == 0 and "notifier" in out and "journal events" in out
    _, cust = _post(f"{service}/customers", {"name": "K", "phone": "010",
                                             "location": {"lat": 37.5, "lon": 127.0}})
    _, store = _post(f"{service}/stores", {"name": "S", "owner_phone": "010",
                                           "location": {"lat": 37.5, "lon": 127.0},
                                           "menu": [{"name": "Rice", "price": 1000}]})
    _, order = _post(f"{service}/orders", {"store_id": store["id"],
                                           "items": [{"menu_item_id": "m1", "quantity": 2}],
                                           "delivery_address": {"lat": 37.5, "lon": 127.0,
                                                                "text": "x"}}, cust["token"])
    code, out = console(service, "-c", "fault payment crash")
    assert code == 0 and '"kind": "crash"' in out
    status, _ = _post(f"{service}/orders/{order['id']}/payment",
                      {"method": "card", "card_token": "t"}, cust["token"])
    assert status == 503
    time.sleep(0.5)  # the gateway's restart backoff
    code, out = console(service, "-c", "refresh")
    assert "restarts 1" in out and "restarted (restart #1)" in out
    code, out = console(service, "-c", f"order {order['id']}", "-c", f"actor {store['id']}")
    assert code == 0
    assert "OrderPlaced" in out and f"order {order['id']}: placed" in out
    assert f"key: {store['id']}" in out and "kind: store" in out
    # commands on standard input, as a script would send them
    code, out = console(service, stdin=f"fault store {store['id']} down\nclear\nbogus\nquit\n")
    assert code == 0
    assert '"kind": "down"' in out and "in force: none" in out and "unknown command" in out


def test_a_wrong_token_or_a_bad_command_is_said_plainly(service):
    code, out = console(service, "--once", token="wrong")
    assert code == 2 and "401" in out
    code, out = console(service, "-c", "fault payment slow")
    assert code == 1 and "usage: fault payment" in out
