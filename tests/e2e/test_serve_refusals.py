"""`python run.py serve` refuses plainly what it cannot do: a data directory another live service
holds, a port in use. One line on stderr, a non-zero exit, nothing left behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from delivery.actors.system import PID_FILE, kill_session
from delivery.datadir import DataDirLock
from tests.conftest import ROOT, free_port

BASES = ["simpleSystemBase", "multiprocTCPBase"]
LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING) ")


class Serve:
    """One `run.py serve` process on a data directory, in its own process group."""

    def __init__(self, data_dir: Path, base: str = "simpleSystemBase", port: int | None = None):
        self.data_dir, self.port = data_dir, port or free_port()
        self.env = {**os.environ, "DELIVERY_ACTORS_BASE": base, "DELIVERY_ADMIN_TOKEN": "serve-refusals-admin-token",
                    "DELIVERY_ACTORS_ADMIN_PORT": str(free_port())}
        self.argv = [sys.executable, "run.py", "serve", "--port", str(self.port), "--data-dir",
                     str(data_dir), "--config", "config/fast-tests.toml"]
        self.proc: subprocess.Popen | None = None

    def run(self) -> subprocess.CompletedProcess:
        """Run it to its end (for a start that must fail)."""
        return subprocess.run(self.argv, cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=60)

    def start(self) -> Serve:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.ready():
                return self
            time.sleep(0.05)
        raise AssertionError(f"serve did not come up (exit code {self.proc.poll()})")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def register(self) -> int:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/customers", method="POST",
            data=json.dumps({"name": "Kim", "phone": "010",
                             "location": {"lat": 37.5, "lon": 127.0}}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status

    def sigkill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, else SIGKILL; and a multi-process admin a killed server left, too."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.sigkill()
        pid_file = self.data_dir / PID_FILE
        if pid_file.exists():
            kill_session(int(pid_file.read_text()), wait=5.0)


def _lines(text: str) -> list[str]:
    """What is said to the operator, without log records (Thespian's admin logs its start)."""
    return [line for line in text.splitlines() if line.strip() and not LOG_RECORD.match(line)]


def _processes_naming(data_dir: Path) -> list[str]:
    """Live processes whose command line names the data directory (forked actors keep it)."""
    found = subprocess.run(["pgrep", "-af", str(data_dir)], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def test_a_second_serve_on_a_data_directory_in_use_refuses_and_the_first_goes_on(tmp_path):
    first = Serve(tmp_path / "data")
    try:
        first.start()
        second = Serve(tmp_path / "data").run()
        assert second.returncode != 0
        (line,) = _lines(second.stderr)
        assert str(tmp_path / "data") in line and "in use" in line
        assert "Traceback" not in second.stdout + second.stderr
        assert first.ready() and first.register() == 201
    finally:
        first.stop()


@pytest.mark.parametrize("base", BASES)
def test_after_a_sigkill_of_the_holder_a_new_serve_starts_on_the_same_directory(tmp_path, base):
    # On multiprocTCPBase the admin is forked from the server: it must not keep the lock alive.
    first, again = Serve(tmp_path / "data", base), Serve(tmp_path / "data", base)
    try:
        first.start().sigkill()
        again.start()
        assert again.register() == 201
    finally:
        first.stop()
        again.stop()


@pytest.mark.parametrize("base", BASES)
def test_a_port_in_use_is_one_line_and_exit_code_1_with_nothing_left_behind(tmp_path, base):
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = Serve(data_dir, base, port)
        try:
            result = serve.run()
        finally:
            serve.stop()
    assert result.returncode == 1
    (line,) = _lines(result.stderr)
    assert str(port) in line and "in use" in line
    assert "Traceback" not in result.stdout + result.stderr
    assert _processes_naming(data_dir) == []
    assert not (data_dir / PID_FILE).exists()
    with DataDirLock(data_dir) as lock:  # released: anyone may take it now
        assert lock.held


def test_serve_help_still_describes_its_flags():
    result = subprocess.run([sys.executable, "run.py", "serve", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "--data-dir" in result.stdout and "--port" in result.stdout
