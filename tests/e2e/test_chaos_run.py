"""A short chaos soak as CI runs it: random faults, one SIGKILL of the actor process (its front
door starts it again) and one of the whole service with a restart on the same data, customers
riding through, then a clean audit of the data directory."""

from __future__ import annotations

import json
import subprocess
import sys

from tests import pgtest
from tests.conftest import ROOT


def test_a_short_chaos_run_with_a_kill_loses_nothing_and_audits_clean(tmp_path):
    report, data_dir = tmp_path / "report.json", tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "run.py", "loadtest", "--spawn", "--chaos", "--seed", "11",
         "--config", "config/fast-tests.toml", "--duration", "20", "--rate", "5", "--stores", "3",
         "--customers", "10", "--riders", "5", "--quiet", "--report", str(report),
         "--data-dir", str(data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(report.read_text())
    c = data["chaos"]
    injected = c["faults"]["injected"]
    assert injected["service:kill"] == 1 and injected["actors:kill"] == 1
    assert [k.get("actors_only", False) for k in c["kills"]].count(True) == 1 == \
        len(c["kills"]) - 1
    assert sum(injected.values()) >= 6 and c["settled"] is True
    assert c["unexpected_errors"] == 0 and data["lifecycles"].get("failed", 0) == 0
    assert c["audit"]["ok"] is True and c["audit"]["violations"] == []
    assert c["audit"]["counts"]["acknowledged"] >= 50  # what the clients were told was checked
    assert "faults injected (seed 11)" in result.stdout and "audit clean" in result.stdout
    # the data directory was kept: the audit command agrees on it afterwards
    where = ["--storage-url", pgtest.current()] if pgtest.current() else ["--data-dir", str(data_dir)]
    again = subprocess.run([sys.executable, "run.py", "audit", *where],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout.startswith("audit clean"), again.stdout
