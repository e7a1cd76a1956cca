"""`python run.py serve` on a data directory it cannot write refuses to start with one line
naming the path. Run as root, permission bits would not stop it, so the directory is made
unwritable for real: under a regular file, or on a tmpfs remounted read-only."""

from __future__ import annotations

import pytest

from tests.disk import remount_read_only, small_disk
from tests.e2e.test_serve_refusals import Serve


def assert_refused_naming(done, path) -> None:
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "not writable" in lines[0], done.stderr


def test_a_data_directory_under_a_regular_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    data_dir = tmp_path / "a-file" / "data"
    assert_refused_naming(Serve(data_dir).run(), data_dir)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_a_data_directory_on_a_read_only_file_system_is_refused_in_one_line(tmp_path, existing):
    with small_disk(tmp_path / "disk", "1m") as disk:
        data_dir = disk / "data"
        if existing:
            data_dir.mkdir()
        remount_read_only(disk)
        assert_refused_naming(Serve(data_dir).run(), data_dir)
