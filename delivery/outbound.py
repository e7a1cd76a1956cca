"""JSON calls to services outside ours (payment providers, webhook receivers, AlimTalk), with one
timeout on every socket operation."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit


class Unreachable(Exception):
    """No answer: refused, reset, timed out, or not HTTP."""


class TimedOut(Unreachable):
    """The other side took longer than the timeout on a socket operation (the request may have
    been received and acted on: its outcome is unknown)."""


def call_json(method: str, url: str, body: str | None = None,
              headers: dict[str, str] | None = None, timeout_s: float = 5.0) -> tuple[int, bytes]:
    """One request with an optional JSON body; returns (status, body of the answer).
    Raises Unreachable (TimedOut for a timeout)."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = dict(headers or {})
    if body is not None:
        sent.setdefault("Content-Type", "application/json; charset=utf-8")
    try:
        conn.request(method, path, body.encode() if body is not None else None, sent)
        response = conn.getresponse()
        return response.status, response.read()
    except TimeoutError as exc:
        raise TimedOut(str(exc) or "timed out") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise Unreachable(str(exc) or type(exc).__name__) from exc
    finally:
        conn.close()


def post_json(url: str, body: str, headers: dict[str, str] | None = None,
              timeout_s: float = 5.0) -> tuple[int, bytes]:
    """POST a JSON body; returns (status, body of the answer). Raises Unreachable."""
    return call_json("POST", url, body, headers, timeout_s)
