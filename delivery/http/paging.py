"""Cursor paging of lists: `?limit=&cursor=`, the cursor an opaque token of the last position."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from .problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
INBOX_PAGE = 500
"""A store's inbox entries a page holds unless `limit` says fewer (the whole inbox was one
answer of up to this many before it had pages: a client that reads one page sees what it saw)."""


def page_limit(request: web.Request, default: int = DEFAULT_LIMIT,
               maximum: int = MAX_LIMIT) -> int:
    """`limit` of the query: 1..maximum, `default` when absent."""
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise Problem("invalid_query", "limit must be a whole number", "limit") from None
    if limit < 1:
        raise Problem("invalid_query", "limit must be at least 1", "limit")
    if limit > maximum:
        raise Problem("limit_too_large", f"limit must be at most {maximum}", "limit")
    return limit


def make_cursor(kind: str, *position: Any) -> str:
    """An opaque cursor: the kind of order it pages and the position of the last item given."""
    text = json.dumps([kind, *position], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def cursor_position(request: web.Request, kind: str) -> tuple | None:
    """The position in `cursor` of the query (None on the first page); a cursor of another
    order or a forged one is 400 naming `cursor`."""
    raw = request.query.get("cursor")
    if not raw:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        decoded = None
    if not isinstance(decoded, list) or len(decoded) < 2 or decoded[0] != kind \
            or not isinstance(decoded[-1], str) \
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in decoded[1:-1]):
        raise Problem("invalid_query", "cursor is not one this list gave out (start without it)",
                      "cursor")
    return tuple(decoded[1:])
