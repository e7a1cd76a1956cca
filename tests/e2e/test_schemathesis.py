"""The served OpenAPI document against the server itself: schemathesis, stateless, every check.

A real `run.py serve` on a temporary data directory; schemathesis generates valid and invalid
requests for every operation from /openapi.json and checks each answer (no 5xx, documented
status, content type, headers and schema, invalid data refused, valid data accepted, Allow on
405, authentication not ignored), once with a token of each role.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

ADMIN = "schemathesis-admin-token-0123"
SCHEMES = ("customerToken", "storeToken", "riderToken", "adminToken")
# A well-formed menu_item_id that is not on the store's menu is 422 unknown_menu_item (API.md):
# which ids exist is the store's data, not something a schema can say.
MENU_ITEMS_ARE_DATA = """
[[operations]]
include-path = "/orders"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]

# lat and lon go together and a cursor is only valid for the list it came from: rules across
# parameters that OpenAPI's per-parameter schemas cannot state (the descriptions do).
[[operations]]
include-name = "GET /stores"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-name = "GET /stores/{store_id}/inbox"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404"]

# A jump from the rider's last location is refused by speed: a rule on state, not on the body.
[[operations]]
include-name = "PUT /riders/me/location"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "422", "429"]
"""
WHERE = {"lat": 37.4979, "lon": 127.0276}
SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent))


def _post(base: str, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _wait_ready(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "run.py serve exited"
        try:
            with urllib.request.urlopen(base + "/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("run.py serve did not become ready")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A served node with a customer, a store with a paid order, and a rider: their tokens."""
    data, port = tmp_path_factory.mktemp("schemathesis"), free_port()
    env = {**os.environ, "DELIVERY_ADMIN_TOKEN": ADMIN, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
           "DELIVERY_ACTORS_SWEEP_INTERVAL_S": "0.2", "DELIVERY_ONBOARDING_AUTO_APPROVE": "true"}
    log = open(data / "serve.log", "w")  # noqa: SIM115  (closed below, after the process)
    proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port),
                             "--data-dir", str(data / "data")], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        yield base, _parties(base), data
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _parties(base: str) -> dict[str, str | dict[str, str]]:
    customer = _post(base, "/customers", {"name": "Kim", "phone": "010-1", "location": WHERE})
    store = _post(base, "/stores", {"name": "Chicken", "owner_phone": "010-2", "location": WHERE,
                                    "menu": [{"name": "Fried chicken", "price": 18000}]})
    rider = _post(base, "/riders", {"name": "Lee", "phone": "010-3", "location": WHERE})
    order = _post(base, "/orders", {"store_id": store["id"],
                                    "items": [{"menu_item_id": "m1", "quantity": 1}],
                                    "delivery_address": {**WHERE, "text": "Gangnam-daero 396"}},
                  customer["token"])
    _post(base, f"/orders/{order['id']}/payment", {"method": "card", "card_token": "tok_visa"},
          customer["token"])
    # Real ids in the paths, so requests reach the handlers' logic rather than a 404.
    return {"customer": customer["token"], "store": store["token"], "rider": rider["token"],
            "admin": ADMIN, "ids": {"path.store_id": store["id"], "path.order_id": order["id"],
                    "path.rider_id": rider["id"]}}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("role", ["customer", "store", "rider", "admin"])
def test_schemathesis_finds_nothing_with_a_token_of_each_role(service, role):
    base, parties, data = service
    config = data / f"schemathesis-{role}.toml"
    # Every security scheme gets this role's token: operations of another role must answer
    # 403 wrong_role, and schemathesis knows the header is the credential (so it also checks
    # that leaving it out is refused).
    config.write_text("max-stream-events = 1\n[parameters]\n" + "".join(
        f'"{k}" = "{v}"\n' for k, v in parties["ids"].items()) + "".join(
        f'[auth.openapi.{scheme}]\nbearer = "{parties[role]}"\n' for scheme in SCHEMES)
        + MENU_ITEMS_ARE_DATA)
    proc = subprocess.run(
        [SCHEMATHESIS, "--config-file", str(config), "run", f"{base}/openapi.json",
         "--checks", "all", "--phases", "examples,coverage,fuzzing", "--max-examples", "10",
         "--seed", "12", "--workers", "1", "--request-timeout", "10", "--no-color"],
        cwd=data, capture_output=True, text=True, timeout=80,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
             "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-12000:] + proc.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", proc.stdout)
    generated = re.search(r"(\d+) generated, (\d+) passed", proc.stdout)
    assert selected and len(set(selected.groups())) == 1, proc.stdout  # every operation tested
    assert generated and generated[1] == generated[2] and int(generated[1]) > 500, proc.stdout
