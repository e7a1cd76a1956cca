"""Shared fixtures: configuration on a temporary data directory, a free port, a running system."""

from __future__ import annotations

from pathlib import Path

import pytest

from delivery import config
from delivery.tools.localhost import free_port

ROOT = Path(__file__).resolve().parent.parent
FAST = ROOT / "config" / "fast-tests.toml"


def make_settings(data_dir: Path, base: str = "simpleSystemBase", **overrides) -> dict:
    """Test configuration: the fast overlay, its own data directory and admin port."""
    return config.load(FAST, env={}, **{"server.data_dir": str(data_dir), "actors.base": base,
                                        "actors.admin_port": free_port(), **overrides})


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path / "data")
