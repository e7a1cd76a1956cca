"""The time of day as the service writes it: RFC 3339, UTC, microseconds, a "Z"."""

import re
from datetime import UTC, datetime, timedelta

from delivery import clock

FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_now_and_ago_are_rfc3339_utc_with_microseconds_and_sort_as_text():
    earlier, now = clock.ago(90), clock.now()
    assert FORMAT.match(now) and FORMAT.match(earlier), (now, earlier)
    assert earlier < now  # the journal and the views compare these as text
    parsed = datetime.strptime(now, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(parsed - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_whole_second_keeps_its_six_zeros():
    # isoformat drops the fraction of a whole second unless asked for it
    assert clock._text(datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)) == "2026-11-26T10:00:00.000000Z"
