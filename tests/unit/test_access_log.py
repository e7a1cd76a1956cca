"""The access log writes its lines itself, once per turn of the event loop (issue 16: through
`logging` it cost ~12 % of a read), in exactly the text and JSON the configured formatters
write; any other handler still gets log records."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time

import pytest

from delivery import logs
from delivery.logs import LINES, AccessLines, JsonFormatter, OneLineFailures, formatter

ENTRY = (1764158400.0429, "GET", "/orders/ord_1", 200, 3.4, "req-7", "127.0.0.1")


class Recording(logging.StreamHandler):
    """A handler the fast path does not know: it must get records."""


@pytest.fixture
def logger():
    """A logger of its own (not in logging's tree, so no capture handler joins it)."""
    return logging.Logger("delivery.access")


def _handler(cls, style: str) -> tuple[logging.StreamHandler, io.StringIO]:
    out = io.StringIO()
    handler = cls(out)
    handler.setFormatter(formatter(style))
    handler.addFilter(OneLineFailures())
    return handler, out


def _through_logging(logger: logging.Logger, style: str, entry=ENTRY) -> str:
    """What logging itself writes of the entry (as before issue 16)."""
    handler, out = _handler(Recording, style)
    logger.addHandler(handler)
    lines = AccessLines()
    lines.pending.append((logger, entry))
    lines.flush()
    logger.removeHandler(handler)
    return out.getvalue()


@pytest.mark.parametrize("style", ["text", "json"])
def test_the_lines_written_directly_are_those_logging_writes(logger, style):
    expected = _through_logging(logger, style)
    handler, out = _handler(logging.StreamHandler, style)
    logger.addHandler(handler)
    lines = AccessLines()
    for entry in (ENTRY, (*ENTRY[:5], "-", "::1")):
        lines.pending.append((logger, entry))
    lines.flush()
    written = out.getvalue().splitlines(keepends=True)
    assert written[0] == expected
    assert len(written) == 2 and written[1].endswith("id=- from ::1\n" if style == "text" else "}\n")


def test_the_text_line_says_when_what_and_how_long(logger):
    line = _through_logging(logger, "text")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ENTRY[0]))
    assert line == (f"{stamp},042 INFO {logger.name} GET /orders/ord_1 200 3.4 ms id=req-7 "
                    f"from 127.0.0.1\n")
    doc = json.loads(_through_logging(logger, "json"))
    assert doc == {"time": "2025-11-26T12:00:00.042+00:00", "level": "INFO", "logger": logger.name,
                   "message": "GET /orders/ord_1 200 3.4 ms id=req-7 from 127.0.0.1",
                   "method": "GET", "path": "/orders/ord_1", "status": 200, "duration_ms": 3.4,
                   "request_id": "req-7", "remote": "127.0.0.1"}


def test_lines_of_one_turn_of_the_loop_are_written_at_its_end_in_one_write(logger, monkeypatch):
    handler, out = _handler(logging.StreamHandler, "text")
    writes = []
    monkeypatch.setattr(out, "write", writes.append)
    logger.addHandler(handler)

    async def serve_three() -> int:
        for _ in range(3):
            LINES.add(logger, ENTRY)
        before = len(writes)
        await asyncio.sleep(0)  # the turn ends
        return before

    assert asyncio.run(serve_three()) == 0
    assert len(writes) == 1 and writes[0].count("\n") == 3


def test_a_handler_of_someone_else_gets_records_with_the_fields(logger):
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    logger.addHandler(Keep())
    lines = AccessLines()
    lines.pending.append((logger, ENTRY))
    lines.flush()
    assert [r.fields["request_id"] for r in seen] == ["req-7"]
    assert seen[0].created == ENTRY[0] and seen[0].getMessage().startswith("GET /orders/ord_1 200")


def test_json_formatter_and_text_are_recognised_others_are_not():
    assert logs._style(_handler(logging.StreamHandler, "json")[0]) == "json"
    assert logs._style(_handler(logging.StreamHandler, "text")[0]) == "text"
    assert logs._style(_handler(Recording, "text")[0]) is None
    custom, _ = _handler(logging.StreamHandler, "text")
    custom.setFormatter(logging.Formatter("%(message)s"))
    assert logs._style(custom) is None
    assert isinstance(formatter("json"), JsonFormatter)
