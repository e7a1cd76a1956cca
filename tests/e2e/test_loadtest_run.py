"""One short real run of the harness: it spawns the service and completes whole lifecycles."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_a_short_spawned_run_completes_lifecycles_without_errors(tmp_path):
    report, page = tmp_path / "report.json", tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "run.py", "loadtest", "--spawn", "--config", "config/fast-tests.toml",
         "--rate", "5", "--duration", "3", "--stores", "2", "--customers", "5", "--riders", "3",
         "--quiet", "--report", str(report), "--html", str(page)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["errors"] == 0
    assert data["lifecycles"].get("completed", 0) >= 5
    assert data["endpoints"]["POST /orders"]["count"] == 15  # 5 per second for 3 seconds
    assert data["latency_ms"]["p99"] > 0 and data["timeline"]
    assert "completed orders/s" in page.read_text()
