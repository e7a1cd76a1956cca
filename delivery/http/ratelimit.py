"""Rate limits at the front door: a token bucket per bearer token (writes and reads apart) and
one per client address; a client over either gets `429 rate_limited` with Retry-After.

It runs before admission control and every handler, so a flood costs a dictionary lookup per
request. Operations (/health, /ready, /metrics, /openapi.json) and the admin API are exempt: the
operator must see a node that is being flooded. Loopback clients skip the per-address bucket when
`rate_limit.exempt_loopback` is on: behind a local proxy every client has that address, and the
load-test harness sends from it with many tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from ..config import RateLimitSettings
from ..domain.ratelimit import Buckets, Rate
from .admission import NEVER_REFUSED as EXEMPT
from .admission import READS
from .auth import is_loopback, token_hash
from .problems import Problem


class RateLimiter:
    """The buckets of one node and the check that consults them (front.py runs it)."""

    def __init__(self, config: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        size = config.max_clients
        self.writes = Buckets(Rate(config.token_rate, config.token_burst), clock, size)
        self.reads = Buckets(Rate(config.read_token_rate, config.read_token_burst), clock, size)
        self.addresses = Buckets(Rate(config.address_rate, config.address_burst), clock, size)

    def wait_s(self, request: web.Request) -> float:
        """0.0 if the request may pass, else the seconds its client should wait."""
        if request.path.startswith(EXEMPT):
            return 0.0
        wait = 0.0
        token = token_hash(request)  # the buckets never hold a usable secret
        if token is not None:
            wait = (self.reads if request.method in READS else self.writes).take(token)
        if not (self.config.exempt_loopback and is_loopback(request.remote)):
            wait = max(wait, self.addresses.take(request.remote or ""))
        return wait

    def check(self, request: web.Request) -> None:
        """Refuse (`429 rate_limited`, with Retry-After) a request whose client is over a limit."""
        if self.config.enabled:
            wait = self.wait_s(request)
            if wait > 0:
                raise Problem("rate_limited", f"too many requests from this client; retry in "
                              f"{wait:.3f} s", retry_after=round(wait, 3))
