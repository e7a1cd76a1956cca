"""What the service keeps on disk is readable by its own user alone, and an exposed or short
secret.key stops `python run.py serve` with one line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from delivery.secretkey import SIZE, load_secret
from tests import pgtest
from tests.conftest import ROOT

from .test_serve_refusals import BASES, Serve


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("base", BASES)
def test_a_fresh_data_directory_and_every_file_in_it_are_private(tmp_path, base):
    data = tmp_path / "fresh" / "data"
    previous = os.umask(0o022)  # a usual login shell's: the service must not rely on ours
    try:
        serve = Serve(data, base).start()
    finally:
        os.umask(previous)
    try:
        assert serve.register() == 201  # the journal and the directory are written
        files = {p.name: mode(p) for p in data.iterdir()}
    finally:
        serve.stop()
    assert mode(data) == 0o700
    database = set() if pgtest.current() else {"delivery.sqlite3"}  # else it is in PostgreSQL
    assert {*database, "secret.key", "service.lock"} <= files.keys()
    assert files == dict.fromkeys(files, 0o600), files


@pytest.mark.parametrize("file_mode,size,complaint", [
    (0o644, SIZE, "accessible to group or others (mode 0644)"),
    (0o640, SIZE, "accessible to group or others (mode 0640)"),
    (0o600, 5, "holds 5 bytes"),
    (0o600, 0, "holds 0 bytes"),
])
def test_an_exposed_or_short_secret_key_stops_the_start_with_one_line(tmp_path, file_mode, size,
                                                                        complaint):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    key = data / "secret.key"
    key.write_bytes(os.urandom(size))
    key.chmod(file_mode)
    done = Serve(data).run()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert str(key) in done.stderr and complaint in done.stderr, done.stderr
    assert not (data / "delivery.sqlite3").exists()  # refused before anything started


def test_a_secret_key_cut_off_by_a_full_disk_is_never_left_behind(tmp_path):
    # A real short write: the file size limit stops the write as a full disk would.
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (10, 10))\n"
              "from delivery.secretkey import load_secret\n"
              "load_secret(sys.argv[1])\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "File too large" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []  # no partial secret.key, no temporary file
    secret = load_secret(tmp_path)  # the next start makes a whole one
    assert len(secret) == SIZE and mode(tmp_path / "secret.key") == 0o600
