"""What every response says about itself (security headers) and which Host it may answer for.

The front door's middleware (front.py) adds the headers to every answer a handler returns or
raises, problem documents and files included; a stream, whose headers go out before its handler
returns, gets them from `SecurityHeaders.add` when it is opened (the order's event stream).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Collection, Iterable
from functools import cache
from pathlib import Path

from aiohttp import web

from ..logs import REQUEST_ID
from .problems import Problem

SERVER = "delivery"
"""The Server header: the product, never its version or aiohttp's (a free hint to an attacker)."""

_PUBLIC = {"Server": SERVER, "X-Content-Type-Options": "nosniff"}
# Tokens, orders, addresses, phones and admin data must never sit in a shared or disk cache.
_PERSONAL = {**_PUBLIC, "Cache-Control": "no-store"}


class SecurityHeaders:
    """The headers of every answer of one app; `public` lists the (method, path) routes whose
    answers hold nothing personal (all others get `Cache-Control: no-store`)."""

    def __init__(self, public: Collection[tuple[str, str]]) -> None:
        self.public = public
        # route -> whether its answers are personal: a few dozen routes, looked up per request
        self.personal: dict[web.AbstractRoute, bool] = {}

    def _of(self, request: web.Request) -> dict[str, str]:
        """The security headers of an answer to `request` (not to be modified)."""
        route = request.match_info.route
        personal = self.personal.get(route)
        if personal is None:
            path = route.resource.canonical if route.resource is not None else ""
            personal = (route.method, path) not in self.public
            if route.resource is not None:  # the app's own routes, not a 404's system route
                self.personal[route] = personal
        return _PERSONAL if personal else _PUBLIC

    def add(self, request: web.Request, response: web.StreamResponse) -> None:
        """Set what every answer carries, before it is sent: the security headers and the
        request's id (kept by the front door's middleware, front.py)."""
        h = response.headers
        h.update(self._of(request))
        h.setdefault("X-Request-Id", request[REQUEST_ID])
        status = response.status
        if status == 401:
            h.setdefault("WWW-Authenticate", 'Bearer realm="delivery"')
        elif status == 405:  # (a matched route's info has no http_exception: getattr raises)
            exc = getattr(request.match_info, "http_exception", None)
            if isinstance(exc, web.HTTPMethodNotAllowed):
                h["Allow"] = ", ".join(sorted(exc.allowed_methods))


# -- the admin page's Content-Security-Policy --


def script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') of the page's inline scripts, exactly as written."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
            for s in re.findall(r"<script>(.*?)</script>", html, flags=re.S)]


@cache
def admin_csp(page: Path) -> str:
    """The admin page's policy: its own inline script by hash and this origin's scripts (the
    charts' plotly.js, from the installed package), nothing else runs; no framing.

    Hashing the script (rather than 'unsafe-inline') means an injected script would not run;
    it is computed from the file, so editing the page cannot leave a stale hash behind.
    """
    scripts = " ".join(script_hashes(page.read_text(encoding="utf-8")))
    return ("default-src 'none'; connect-src 'self'; img-src 'self'; "
            f"script-src 'self' {scripts}; style-src 'unsafe-inline'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


# -- Host check against DNS rebinding --


def host_name(header: str) -> str:
    """The host part of a Host header, lower case, without port or trailing dot."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[:header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0].rstrip(".") if header.count(":") == 1 else header.rstrip(".")


def allowed_hosts(configured: Iterable[str], server_host: str) -> frozenset[str]:
    """The host names this node answers for: the configured ones and the one it listens on."""
    hosts = {host_name(h) for h in configured}
    hosts.add(f"[{server_host}]" if ":" in server_host else server_host.lower())
    return frozenset(hosts)


def host_check(allowed: frozenset[str]) -> Callable[[web.Request], None]:
    """A check that refuses a request whose Host is not one of `allowed` ("*": any).

    A web page on evil.example whose name is re-pointed at 127.0.0.1 (DNS rebinding) reaches a
    loopback service from the victim's browser; its requests still say `Host: evil.example`.
    """

    passed: set[str] = set()  # Host headers seen allowed: a set lookup instead of parsing
    anything = "*" in allowed

    def check(request: web.Request) -> None:
        header = request.headers.get("Host")
        # HTTP/1.0 clients may omit Host; browsers, the rebinding vector, always send it.
        if header is None or anything or header in passed:
            return
        if host_name(header) not in allowed:
            raise Problem("host_not_allowed", f"this server does not answer for host "
                          f"{host_name(header)[:100]!r} (server.allowed_hosts)", "Host")
        if len(passed) < 64:  # spellings of allowed names (case, port): a handful
            passed.add(header)

    return check
