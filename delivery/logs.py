"""Logging of the service: one line per record on stderr, as text or JSON (`[logging]`), the
access log (one line per HTTP request), and injected or expected actor failures as one-line
warnings instead of Thespian's tracebacks.

The same handler set is handed to Thespian (`log_defs`), which configures logging itself when
the actor system starts (in this process on simpleSystemBase, in its logger process otherwise).
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .config import LoggingSettings

ACCESS = "delivery.access"
REQUEST_ID = web.RequestKey("request_id", str)
"""The request's id (X-Request-Id, given or made), set by the problem middleware."""
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


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path (never the query: it may hold a position), status,
    time taken, request id and client address; the same as fields in JSON."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        fields = {"method": request.method, "path": request.path, "status": response.status,
                  "duration_ms": round(time * 1000, 1),
                  "request_id": request.get(REQUEST_ID) or response.headers.get("X-Request-Id", "-"),
                  "remote": request.remote or "-"}
        self.logger.info("%(method)s %(path)s %(status)s %(duration_ms).1f ms id=%(request_id)s "
                         "from %(remote)s", fields, extra={"fields": fields})


def access_logger(enabled: bool) -> logging.Logger | None:
    """The logger aiohttp's runner writes the access log to; None turns it off."""
    return logging.getLogger(ACCESS) if enabled else None
