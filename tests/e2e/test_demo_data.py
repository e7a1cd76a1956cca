"""`python run.py serve --demo-data` on the deployed default (onboarding by the admin): a working
walk-through set, handed over as lines a shell can source (also DATA_DIR/demo.env), registered
once per data directory however often the service starts with --demo-data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from delivery.http.demo_data import read_env
from tests.conftest import ROOT, free_port

ADMIN = "demo-data-admin-token-0123456"


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.loads(r.read())


def _serve_demo(data_dir, port: int) -> tuple[subprocess.Popen, list[str]]:
    """`serve --demo-data`, and its output up to the last line of the demo set."""
    env = {**os.environ, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
           "DELIVERY_ADMIN_TOKEN": ADMIN, "DELIVERY_ONBOARDING_AUTO_APPROVE": "false",
           "DELIVERY_LOGGING_ACCESS_LOG": "false"}
    proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port), "--data-dir",
                             str(data_dir), "--config", "config/fast-tests.toml",
                             "--demo-data"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines, deadline = [], time.monotonic() + 30
    while not any(ln.startswith("export RID2=") for ln in lines) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    return proc, lines


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_demo_data_is_approved_sourceable_and_registered_once_per_data_directory(tmp_path):
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    proc, lines = _serve_demo(data, port)
    try:
        exports = [ln for ln in lines if ln.startswith("export ")]
        assert exports == [ln for ln in (data / "demo.env").read_text().splitlines(True)
                           if ln.startswith("export ")], lines
        assert (data / "demo.env").stat().st_mode & 0o777 == 0o600
        env = read_env(data / "demo.env")
        assert env["BASE"] == base and env["A"] == ADMIN
        _, listed = _get(f"{base}/stores?lat=37.4979&lon=127.0276")
        assert len(listed["stores"]) == 3, lines
        assert _get(f"{base}/riders/me/deliveries/available", env["R"]) == (200, {"deliveries": []})
        assert _get(f"{base}/riders/me/deliveries/available", env["R2"])[0] == 200
        assert _get(f"{base}/customers/me/orders", env["C"])[0] == 200
        assert _get(f"{base}/stores/{env['SID']}/orders", env["S"])[0] == 200
        _, waiting = _get(f"{base}/admin/api/onboarding", ADMIN)
        assert waiting == {"stores": [], "riders": []}
        # what a shell makes of the printed lines: the same variables
        shell = subprocess.run(["bash", "-c", "".join(exports) + "echo $SID $C $RID $R"],
                               capture_output=True, text=True, timeout=10)
        assert shell.stdout.split() == [env["SID"], env["C"], env["RID"], env["R"]]
    finally:
        _stop(proc)

    port = free_port()
    proc, again = _serve_demo(data, port)  # the same data directory, on another port
    try:
        assert any("registered before" in ln for ln in again), again
        _, listed = _get(f"http://127.0.0.1:{port}/stores?limit=200")
        names = [s["name"] for s in listed["stores"]]
        assert sorted(names) == ["Gangnam Fried Chicken", "Seocho Bibimbap", "Yeoksam Tteokbokki"]
        env2 = read_env(data / "demo.env")
        assert env2 == {**env, "BASE": f"http://127.0.0.1:{port}"}  # same set, this address
        assert _get(f"http://127.0.0.1:{port}/customers/me/orders", env2["C"])[0] == 200
    finally:
        _stop(proc)
