"""JSON POSTs to services outside ours (the payment provider, webhook receivers), with one
timeout on every socket operation."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit


class Unreachable(Exception):
    """No answer: refused, reset, timed out, or not HTTP."""


def post_json(url: str, body: str, headers: dict[str, str] | None = None,
              timeout_s: float = 5.0) -> tuple[int, bytes]:
    """POST a JSON body; returns (status, body of the answer). Raises Unreachable."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    try:
        conn.request("POST", parts.path or "/", body.encode(),
                     {"Content-Type": "application/json; charset=utf-8", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise Unreachable(str(exc)) from exc
    finally:
        conn.close()
