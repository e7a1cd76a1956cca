"""The operator's logs: one access line per request (with its request id), `[logging] format =
"json"` for log shippers, and an injected crash as a one-line warning, not a traceback."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from delivery.logs import JsonFormatter, OneLineFailures
from tests.conftest import ROOT, free_port

ADMIN = "logging-test-admin-token-0123"


def _call(base, method, path, body=None, token=None, request_id=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if request_id:
        headers["X-Request-Id"] = request_id
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None,
                                 method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_served_app_writes_json_lines_an_access_line_per_request_and_one_line_faults(tmp_path):
    port = free_port()
    env = {**os.environ, "DELIVERY_ADMIN_TOKEN": ADMIN, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
           "DELIVERY_LOGGING_FORMAT": "json", "DELIVERY_LOGGING_ACCESS_LOG": "true"}
    with open(tmp_path / "stderr", "w") as err:
        proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port),
                                 "--data-dir", str(tmp_path / "data"), "--config",
                                 "config/fast-tests.toml"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _call(base, "GET", "/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        _, customer = _call(base, "POST", "/customers", {
            "name": "Kim", "phone": "010", "location": {"lat": 37.5, "lon": 127.0}})
        _, store = _call(base, "POST", "/stores", {
            "name": "Chicken", "owner_phone": "010", "location": {"lat": 37.5, "lon": 127.0},
            "menu": [{"name": "Rice", "price": 1000}]})
        status, order = _call(base, "POST", "/orders", {
            "store_id": store["id"], "items": [{"menu_item_id": "m1", "quantity": 1}],
            "delivery_address": {"lat": 37.5, "lon": 127.0, "text": "x"}}, customer["token"],
            request_id="trace-me-42")
        assert status == 201
        assert _call(base, "POST", "/admin/api/faults", {"target": "payment", "kind": "crash"},
                     ADMIN)[0] == 200
        status, _ = _call(base, "POST", f"/orders/{order['id']}/payment",
                          {"method": "card", "card_token": "tok_visa"}, customer["token"])
        assert status == 503
        time.sleep(1.0)  # the gateway's restart after its backoff
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    lines = [ln for ln in (tmp_path / "stderr").read_text().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    access = [r for r in records if r["logger"] == "delivery.access"]
    placed = [r for r in access if r["path"] == "/orders" and r["method"] == "POST"]
    assert placed == [{**placed[0], "status": 201, "request_id": "trace-me-42",
                       "remote": "127.0.0.1"}]
    assert placed[0]["duration_ms"] >= 0 and "POST /orders 201" in placed[0]["message"]
    assert {r["path"] for r in access} >= {"/ready", "/customers", "/stores", "/admin/api/faults"}
    crash = [r for r in records if "injected fault" in r["message"]]
    assert crash and all(r["level"] == "WARNING" and "exc" not in r for r in crash), crash
    assert not any("Traceback" in ln for ln in lines)


def test_the_access_log_is_off_when_configured_so(tmp_path):
    port = free_port()
    env = {**os.environ, "DELIVERY_ADMIN_TOKEN": ADMIN, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
           "DELIVERY_LOGGING_ACCESS_LOG": "false"}
    with open(tmp_path / "stderr", "w") as err:
        proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port),
                                 "--data-dir", str(tmp_path / "data")], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _call(f"http://127.0.0.1:{port}", "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert "delivery.access" not in (tmp_path / "stderr").read_text()


def test_an_expected_failure_becomes_one_warning_line_and_others_keep_their_traceback():
    from delivery.logs import InjectedFault

    def record(exc: Exception) -> logging.LogRecord:
        try:
            raise exc
        except Exception:
            return logging.LogRecord("Thespian", logging.ERROR, __file__, 1,
                                     "Failure of Actor %s", ("gw",), sys.exc_info())

    expected = record(InjectedFault("payment_gateway crashed (injected fault)"))
    assert OneLineFailures().filter(expected)
    assert expected.levelname == "WARNING" and expected.exc_info is None
    assert expected.getMessage() == "Failure of Actor gw: payment_gateway crashed (injected fault)"
    bug = record(KeyError("surprise"))
    assert OneLineFailures().filter(bug) and bug.exc_info is not None
    doc = json.loads(JsonFormatter().format(bug))
    assert doc["level"] == "ERROR" and "KeyError" in doc["exc"] and doc["logger"] == "Thespian"
