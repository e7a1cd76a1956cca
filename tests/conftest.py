"""Shared fixtures: configuration on a temporary data directory, a free port, a running system."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from delivery import config

ROOT = Path(__file__).resolve().parent.parent
FAST = ROOT / "config" / "fast-tests.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_settings(data_dir: Path, base: str = "simpleSystemBase", **overrides) -> dict:
    """Test configuration: the fast overlay, its own data directory and admin port."""
    return config.load(FAST, env={}, **{"server.data_dir": str(data_dir), "actors.base": base,
                                        "actors.admin_port": free_port(), **overrides})


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path / "data")
