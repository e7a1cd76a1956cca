"""The front door's one middleware: the checks every request passes before its handler, the
problem document of whatever it raises, and what every answer carries and is counted as.

In order: a new request id; the Host check (hardening.py), the rate limits (ratelimit.py),
admission of a command (admission.py), the body within its deadline (deadlines.py); then the
handler; a failure anywhere becomes its problem document (problems.py); every answer gets its
security headers and X-Request-Id and is counted (metrics.py). One middleware rather than one per
concern: each layer of aiohttp middleware costs a coroutine and a `partial` per request; six of
them were ~20k instructions of the ~330k of `GET /health` (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..config import Settings
from .admission import AdmissionControl
from .deadlines import read_in_time
from .hardening import SecurityHeaders, allowed_hosts, host_check
from .metrics import Metrics
from .problems import failure_response, request_id_of
from .ratelimit import RateLimiter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def front_door(settings: Settings, metrics: Metrics, admission: AdmissionControl,
               headers: SecurityHeaders) -> Middleware:
    """The middleware of an app serving `settings`."""
    # Admission comes after the rate limits: a client over its limit must not take an admission
    # slot; the Host check before both: a rebinding page gets nothing at all. A refused command
    # costs no body, lookup or actor work.
    check_host = host_check(allowed_hosts(settings.server.allowed_hosts, settings.server.host))
    limits = RateLimiter(settings.rate_limit)
    body_timeout_s = settings.server.body_timeout_s

    @web.middleware
    async def front(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = request_id_of(request)
        try:
            check_host(request)
            limits.check(request)
            admitted = admission.admit(request)
            try:
                if request.body_exists:
                    await read_in_time(request, body_timeout_s)
                response = await handler(request)
            finally:
                if admitted:
                    admission.release()
        except Exception as failure:  # noqa: BLE001 - every failure is answered as a problem
            if isinstance(failure, web.HTTPException) and failure.status < 400:
                headers.add(request, failure)  # a redirect: aiohttp sends it
                raise
            response = failure_response(request, failure, request_id)
        if not response.prepared:  # a stream took its headers when it opened
            headers.add(request, response)
        metrics.observe(request, response.status, time.perf_counter() - started)
        return response

    return front
