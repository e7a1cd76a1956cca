"""The OpenAPI document matches the routes, and the operator contract of `run.py serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from delivery.http.app import admin_token, create_app
from delivery.http.problems import CODES
from delivery.http.routes import ROUTES, document
from tests.conftest import ROOT, free_port, make_settings

OP_TOKEN = "operator-admin-token-0123456"


def test_every_route_is_in_the_openapi_document_and_nothing_else(tmp_path):
    app = create_app(make_settings(tmp_path), "x")
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    documented = {(m.upper(), path) for path, ops in document()["paths"].items() for m in ops}
    assert served == documented


def test_the_document_lists_every_error_code_and_every_used_code_is_known():
    doc = document()
    assert set(doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]) == set(CODES)
    for route in ROUTES:
        assert set(route.errors) <= set(CODES), route.path
    for name in ("Order", "OrderIn", "StoreIn", "Problem"):
        assert name in doc["components"]["schemas"]
    refs = json.dumps(doc)
    for name in doc["components"]["schemas"]:
        assert f"#/components/schemas/{name}" in refs or name == "Problem"


def test_the_admin_token_comes_from_config_then_environment_then_is_generated_and_kept(tmp_path):
    configured, env = "from-config-" + "c" * 12, "from-environment-" + "e" * 7
    s = make_settings(tmp_path, **{"admin.token": configured})
    assert admin_token(s, {"DELIVERY_ADMIN_TOKEN": env}) == (configured, "configured")
    s = make_settings(tmp_path)
    assert admin_token(s, {"DELIVERY_ADMIN_TOKEN": env}) == (env, "configured")
    assert not (tmp_path / "admin.token").exists()  # a configured token is never written
    token, source = admin_token(s, {})
    assert source == "generated" and len(token) >= 24
    assert (tmp_path / "admin.token").stat().st_mode & 0o777 == 0o600
    assert admin_token(s, {}) == (token, "stored")  # the next start keeps it
    assert admin_token(s, {"DELIVERY_ADMIN_TOKEN": env}) == (env, "configured")  # still wins


def _get(url, token=None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.loads(r.read())


def _post(url, body, token=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.loads(r.read())


def test_run_py_serve_answers_over_a_socket_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
           "DELIVERY_ADMIN_TOKEN": OP_TOKEN}
    proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port), "--data-dir",
                             str(tmp_path / "data"), "--config", "config/fast-tests.toml"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner, banner
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/ready")[1]["status"] == "ready"
        _, cust = _post(f"{base}/customers", {"name": "Kim", "phone": "010",
                                              "location": {"lat": 37.5, "lon": 127.0}})
        _, store = _post(f"{base}/stores", {"name": "S", "owner_phone": "010",
                                            "location": {"lat": 37.5, "lon": 127.0},
                                            "menu": [{"name": "Rice", "price": 1000}]})
        status, order = _post(f"{base}/orders", {
            "store_id": store["id"], "items": [{"menu_item_id": "m1", "quantity": 2}],
            "delivery_address": {"lat": 37.5, "lon": 127.0, "text": "home"}}, cust["token"])
        assert status == 201 and order["total"] == 2000
        assert _get(f"{base}/admin/api/stats", OP_TOKEN)[1]["orders_by_status"]["placed"] == 1
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 10
        rest = proc.stdout.read()
        assert "stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    # nothing it started is left
    leftover = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def test_a_bad_config_value_stops_serve_with_a_message_naming_the_key(tmp_path):
    proc = subprocess.run([sys.executable, "run.py", "serve", "--data-dir", str(tmp_path)],
                          cwd=ROOT, env={**os.environ, "DELIVERY_DISPATCH_RADIUS_KM": "far"},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "dispatch.radius_km" in proc.stderr and "DELIVERY_DISPATCH_RADIUS_KM" in proc.stderr
