"""Wall-clock time as RFC 3339 UTC strings; the one place the service reads the time of day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now() -> str:
    """The current time, e.g. 2026-11-23T10:00:00.123456Z."""
    return _text(datetime.now(UTC))


def ago(seconds: float) -> str:
    """The time that many seconds before now, in the format of `now`."""
    return _text(datetime.now(UTC) - timedelta(seconds=seconds))


def _text(moment: datetime) -> str:
    # isoformat, less its "+00:00", is strftime's "%Y-%m-%dT%H:%M:%S.%f" for less (2.1 µs, not 3.4)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"
