"""deploy/: the systemd unit passes `systemd-analyze verify`, the nginx snippet passes `nginx -t`
(Debian's packages; skipped where they are missing), and the backup script copies the database
of a serving service into a consistent, complete file."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, free_port

DEPLOY = ROOT / "deploy"

# About the README's commands and the deploy files, not the storage adapter: SQLite only.
pytestmark = pytest.mark.sqlite_only


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_unit_verifies(tmp_path):
    # the unit names /opt/delivery; point it at this checkout so the paths exist
    unit = (DEPLOY / "delivery.service").read_text()
    unit = unit.replace("/opt/delivery/.venv/bin/python", sys.executable)
    unit = unit.replace("/opt/delivery", str(ROOT))
    (tmp_path / "delivery.service").write_text(unit)
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "delivery.service")],
                            capture_output=True, text=True, timeout=60)
    problems = [ln for ln in (result.stdout + result.stderr).splitlines()
                if "delivery.service" in ln]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"),
                    reason="needs nginx (apt-get install nginx-light)")
def test_the_nginx_snippet_passes_nginx_t(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=delivery.example.com", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    site = (DEPLOY / "nginx-delivery.conf").read_text()
    site = site.replace("/etc/ssl/certs/delivery.example.com.pem", str(cert))
    site = site.replace("/etc/ssl/private/delivery.example.com.key", str(key))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 shell")
def test_the_backup_script_copies_the_database_while_the_service_serves(tmp_path):
    data, port = tmp_path / "data", free_port()
    env = {**os.environ, "DELIVERY_ADMIN_TOKEN": "backup-test-admin-token-0123",
           "DELIVERY_ACTORS_ADMIN_PORT": str(free_port())}
    proc = subprocess.Popen([sys.executable, "run.py", "serve", "--port", str(port), "--data-dir",
                             str(data), "--config", "config/fast-tests.toml", "--demo-data"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (data / "demo.env").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
            assert r.status == 200
        result = subprocess.run([str(DEPLOY / "backup.sh"), str(data), str(tmp_path / "backup")],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    copies = sorted((tmp_path / "backup").glob("*-delivery.sqlite3"))
    assert len(copies) == 1 and copies[0].stat().st_mode & 0o077 == 0
    with sqlite3.connect(copies[0]) as db:
        assert db.execute("SELECT count(*) FROM stores").fetchone()[0] == 3
    assert list((tmp_path / "backup").glob("*-secret.key"))
