"""One live actor runtime per data directory, also within one process; others are untouched."""

from __future__ import annotations

import pytest

from delivery.actors.client import OrderClient
from delivery.actors.system import ActorRuntime
from delivery.datadir import DataDirInUse, DataDirLock
from tests.conftest import make_settings

from .conftest import HOME


def test_a_second_runtime_on_a_directory_in_use_is_refused_and_the_first_goes_on(runtime):
    second = ActorRuntime(make_settings(runtime.data_dir))
    with pytest.raises(DataDirInUse, match=str(runtime.data_dir)):
        second.start()
    assert not second.running
    customer_id, _ = OrderClient(runtime).register_customer("Kim", "010-1", HOME.location)
    assert customer_id


def test_runtimes_on_different_directories_run_side_by_side(runtime, tmp_path):
    other = ActorRuntime(make_settings(tmp_path / "other")).start()
    try:
        assert runtime.running and other.running
    finally:
        other.stop()


def test_a_stopped_runtime_lets_its_directory_go(tmp_path):
    settings = make_settings(tmp_path / "data")
    ActorRuntime(settings).start().stop()
    again = ActorRuntime(make_settings(tmp_path / "data")).start()
    try:
        assert again.running
    finally:
        again.stop()
    with DataDirLock(tmp_path / "data") as lock:
        assert lock.held
