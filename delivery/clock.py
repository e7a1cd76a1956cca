"""Wall-clock time as RFC 3339 UTC strings; the one place the service reads the time of day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now() -> str:
    """The current time, e.g. 2026-11-23T10:00:00.123456Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ago(seconds: float) -> str:
    """The time that many seconds before now, in the format of `now`."""
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
