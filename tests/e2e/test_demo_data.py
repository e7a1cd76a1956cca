"""`python run.py serve --demo-data` on the deployed default (onboarding by the admin) still gives a
working walk-through: its stores are listed and its riders may look for deliveries."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT, free_port


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, json.loads(r.read())


def _demo_lines(proc: subprocess.Popen, wanted: int, timeout_s: float = 30) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout_s
    while len([ln for ln in lines if "token" in ln]) < wanted and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    return lines


def test_demo_data_is_approved_through_the_admin_api_when_onboarding_is_manual(tmp_path):
    port = free_port()
    env = {**os.environ, "DELIVERY_ACTORS_ADMIN_PORT": str(free_port()),
           "DELIVERY_ADMIN_TOKEN": "demo-data-admin-token-0123456", "DELIVERY_ONBOARDING_AUTO_APPROVE": "false"}
    proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port), "--data-dir",
                             str(tmp_path / "data"), "--config", "config/fast-tests.toml",
                             "--demo-data"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        lines = _demo_lines(proc, wanted=7)  # 3 stores, 2 customers, 2 riders
        riders = [re.search(r"token (\S+)", ln).group(1) for ln in lines if "rider " in ln]
        base = f"http://127.0.0.1:{port}"
        _, listed = _get(f"{base}/stores?lat=37.4979&lon=127.0276")
        assert len(listed["stores"]) == 3, lines
        assert len(riders) == 2 and _get(f"{base}/riders/me/deliveries/available", riders[0]) == \
            (200, {"deliveries": []})
        _, waiting = _get(f"{base}/admin/api/onboarding", "demo-data-admin-token-0123456")
        assert waiting == {"stores": [], "riders": []}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
