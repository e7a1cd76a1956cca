"""How long a client may take: idle keep-alive and request headers, and the request body.

A client that is slow on purpose (slowloris) or gone without a FIN must not hold a socket and a
handler for ever. aiohttp arms one timer per connection, `keepalive_timeout`, at the connection's
start and after each answer, and closes the connection when it fires while no complete request
has arrived; arriving header bytes do not re-arm it. So it bounds both an idle keep-alive
connection and the time to send a request's headers. The body is read under its own deadline
(`read_in_time`, from front.py) before the view runs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from ..config import ServerSettings
from .problems import Problem

log = logging.getLogger("delivery.http")


def handler_args(server: ServerSettings) -> dict[str, Any]:
    """Connection settings of the app, applied by whichever runner serves it. The rest of a body
    the answer did not need is drained for at most the body's own timeout, then the connection
    closes (aiohttp's default would give a dawdling client 10 s more)."""
    return {"keepalive_timeout": server.keepalive_timeout_s,
            "lingering_time": server.body_timeout_s}


async def read_in_time(request: web.Request, timeout_s: float) -> None:
    """Read the whole body within `timeout_s` (else 408); an aborted one is a 400. Kept by
    aiohttp: the view's read() returns it.

    Both are the client's doing, so they are logged at INFO and never counted as a 500."""
    try:
        async with asyncio.timeout(timeout_s):
            await request.read()
    except TimeoutError:
        log.info("%s %s: the body did not arrive within %g s", request.method, request.path,
                 timeout_s)
        raise Problem("request_timeout", f"the body did not arrive within {timeout_s:g} s") from None
    except ConnectionError:
        log.info("%s %s: the client left before its body ended", request.method, request.path)
        raise Problem("body_incomplete", "the connection ended before the body did") from None
