"""Logging of the service: one line per record on stderr, as text or JSON (`[logging]`), the
access log (one line per HTTP request), and injected or expected actor failures as one-line
warnings instead of Thespian's tracebacks.

The same handler set is handed to Thespian (`log_defs`), which configures logging itself when
the actor system starts (in this process on simpleSystemBase, in its logger process otherwise).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import logging.config
import os
import time as _time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .config import LoggingSettings

ACCESS = "delivery.access"
REQUEST_ID = web.RequestKey("request_id", str)
"""The request's id (X-Request-Id, given or made), set by the front door's middleware (front.py)."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class InjectedFault(RuntimeError):
    """A failure the operator asked for (POST /admin/api/faults): expected, worth one line."""


EXPECTED = (InjectedFault,)
"""Exceptions that are part of the service's normal life: logged without a traceback."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's `fields`, `exc`."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        doc.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def formatter(style: str = "text") -> logging.Formatter:
    """The formatter of `[logging] format` (also named by Thespian's dictConfig)."""
    return JsonFormatter() if style == "json" else logging.Formatter(TEXT_FORMAT)


class OneLineFailures(logging.Filter):
    """Turn a record whose exception is expected (an injected fault) into a one-line warning:
    the exception's message instead of its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, EXPECTED):
            record.msg, record.args = f"{record.getMessage()}: {exc}", None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def log_defs(settings: LoggingSettings) -> dict[str, Any]:
    """dictConfig of the service: stderr, the configured format and level, failures filtered."""
    return {
        "version": 1,
        "disable_existing_loggers": False,  # the service's own loggers keep working
        "formatters": {"main": {"()": "delivery.logs.formatter", "style": settings.format}},
        "filters": {"failures": {"()": "delivery.logs.OneLineFailures"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "main",
                                "filters": ["failures"]}},
        "root": {"handlers": ["stderr"], "level": settings.level},
        # Thespian's own chatter (connections, timers) is for its developers.
        "loggers": {"Thespian": {"level": "WARNING"},
                    "aiohttp.access": {"level": "WARNING"},
                    ACCESS: {"level": "INFO" if settings.access_log else "WARNING"}},
    }


def setup(settings: LoggingSettings) -> None:
    logging.config.dictConfig(log_defs(settings))


ACCESS_FORMAT = "%(method)s %(path)s %(status)s %(duration_ms).1f ms id=%(request_id)s from %(remote)s"


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path (never the query: it may hold a position), status,
    time taken, request id and client address; the same as fields in JSON.

    The line is kept in `LINES` and written with the others of the same turn of the event loop
    (`AccessLines`): going through `logging` record by record cost ~12 % of a read's capacity.
    """

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        LINES.add(self.logger, (_time.time(), request.method, request.path, response.status,
                                round(time * 1000, 1),
                                request.get(REQUEST_ID) or response.headers.get("X-Request-Id", "-"),
                                request.remote or "-"))


Entry = tuple[float, str, str, int, float, str, str]
"""An access line before formatting: (time, method, path, status, duration_ms, request id, remote)."""


def _fields(entry: Entry) -> dict[str, Any]:
    return dict(zip(("method", "path", "status", "duration_ms", "request_id", "remote"), entry[1:],
                    strict=True))


class AccessLines:
    """Access lines waiting to be written: all those of one turn of the event loop are written
    at the end of the turn (`call_soon`), in one write per handler, formatted here exactly as
    the configured formatter would. Any other handler, formatter or filter gets log records as
    before (`logger.handle`)."""

    def __init__(self) -> None:
        self.pending: list[tuple[logging.Logger, Entry]] = []
        self.loop: asyncio.AbstractEventLoop | None = None  # where a flush is scheduled
        self._second, self._asctime = -1, ""

    def add(self, logger: logging.Logger, entry: Entry) -> None:
        self.pending.append((logger, entry))
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self.loop = loop
            loop.call_soon(self.flush)

    def forget(self) -> None:
        """Drop the pending lines and the scheduled flush (a forked child's copy of them)."""
        self.pending, self.loop = [], None

    def flush(self) -> None:
        """Write every pending line (also called at exit)."""
        self.loop = None
        pending, self.pending = self.pending, []
        by_logger: dict[logging.Logger, list[Entry]] = {}
        for logger, entry in pending:
            by_logger.setdefault(logger, []).append(entry)
        for logger, entries in by_logger.items():
            targets = _plain_targets(logger)
            if targets is None:
                for entry in entries:
                    logger.handle(_record(logger, entry))
                continue
            for handler, style in targets:
                text = "".join(self._line(logger.name, e, style) + handler.terminator
                               for e in entries)
                with handler.lock:
                    handler.stream.write(text)
                    handler.flush()

    def _line(self, name: str, entry: Entry, style: str) -> str:
        _, method, path, status, ms, request_id, remote = entry
        message = f"{method} {path} {status} {ms:.1f} ms id={request_id} from {remote}"  # ACCESS_FORMAT
        if style == "json":
            doc = {"time": datetime.fromtimestamp(entry[0], UTC).isoformat(timespec="milliseconds"),
                   "level": "INFO", "logger": name, "message": message, **_fields(entry)}
            return json.dumps(doc, ensure_ascii=False, default=str)
        return f"{self._asctime_of(entry[0])} INFO {name} {message}"

    def _asctime_of(self, created: float) -> str:
        """logging.Formatter's asctime (local time, milliseconds after a comma), the date and
        time formatted once a second."""
        second = int(created)
        if second != self._second:
            self._second = second
            self._asctime = _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(created))
        return f"{self._asctime},{int((created - second) * 1000):03d}"


def _plain_targets(logger: logging.Logger) -> list[tuple[logging.StreamHandler, str]] | None:
    """The handlers an INFO record of `logger` would reach, with the style of their formatter,
    when every one is a stream handler this module configured (`log_defs`); else None."""
    if logger.filters or logger.disabled:
        return None
    targets, current = [], logger
    while current is not None:
        for handler in current.handlers:
            style = _style(handler)
            if style is None:
                return None
            if handler.level <= logging.INFO:
                targets.append((handler, style))
        current = current.parent if current.propagate else None
    return targets or None  # no handler at all: logging's last resort decides


def _style(handler: logging.Handler) -> str | None:
    if type(handler) is not logging.StreamHandler or not all(
            type(f) is OneLineFailures for f in handler.filters):  # no-ops on access lines
        return None
    f = handler.formatter
    if type(f) is JsonFormatter:
        return "json"
    if (type(f) is logging.Formatter and f._fmt == TEXT_FORMAT and f.datefmt is None
            and f.converter is _time.localtime and isinstance(f._style, logging.PercentStyle)):
        return "text"
    return None


def _record(logger: logging.Logger, entry: Entry) -> logging.LogRecord:
    fields = _fields(entry)
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, ACCESS_FORMAT, fields, None,
                               extra={"fields": fields})
    record.created, record.msecs = entry[0], int((entry[0] - int(entry[0])) * 1000) + 0.0
    return record


LINES = AccessLines()
atexit.register(LINES.flush)
# A forked child (an actor process of multiprocTCPBase) must not write its parent's lines again.
os.register_at_fork(after_in_child=LINES.forget)


def access_logger(enabled: bool) -> logging.Logger | None:
    """The logger aiohttp's runner writes the access log to; None turns it off."""
    return logging.getLogger(ACCESS) if enabled else None
