"""What every response says about itself (security headers) and which Host it may answer for.

The headers are set in `on_response_prepare`, the one hook every response passes, problem
documents, Server-Sent Events and files included, just before its headers are sent.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Collection, Iterable
from functools import cache
from pathlib import Path

from aiohttp import web

from .problems import Problem

SERVER = "delivery"
"""The Server header: the product, never its version or aiohttp's (a free hint to an attacker)."""


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install(app: web.Application, public: Collection[tuple[str, str]]) -> None:
    """Add the headers to every response of `app`; `public` lists the (method, path) routes
    whose answers hold nothing personal (all others get `Cache-Control: no-store`)."""

    private: dict[web.AbstractRoute, bool] = {}  # route -> whether its answers are personal

    async def headers(request: web.Request, response: web.StreamResponse) -> None:
        add_headers(request, response, public, private)

    app.on_response_prepare.append(headers)


def add_headers(request: web.Request, response: web.StreamResponse,
                public: Collection[tuple[str, str]],
                private: dict[web.AbstractRoute, bool] | None = None) -> None:
    """The headers of every answer; `private` remembers, per route of the app, what `public`
    says of it (looking it up anew cost a few per cent of a read)."""
    h = response.headers
    h["Server"] = SERVER
    h["X-Content-Type-Options"] = "nosniff"
    route = request.match_info.route
    personal = None if private is None else private.get(route)
    if personal is None:
        path = route.resource.canonical if route.resource is not None else ""
        personal = (route.method, path) not in public
        if private is not None and route.resource is not None:  # the app's routes: a few dozen
            private[route] = personal
    # Tokens, orders, addresses, phones and admin data must never sit in a shared or disk cache.
    if personal:
        h["Cache-Control"] = "no-store"
    if response.status == 401:
        h.setdefault("WWW-Authenticate", 'Bearer realm="delivery"')
    exc = getattr(request.match_info, "http_exception", None)
    if response.status == 405 and isinstance(exc, web.HTTPMethodNotAllowed):
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


def host_check(allowed: frozenset[str]) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """A middleware that refuses a request whose Host is not one of `allowed` ("*": any).

    A web page on evil.example whose name is re-pointed at 127.0.0.1 (DNS rebinding) reaches a
    loopback service from the victim's browser; its requests still say `Host: evil.example`.
    """

    passed: set[str] = set()  # Host headers seen allowed: a set lookup instead of parsing

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Host")
        # HTTP/1.0 clients may omit Host; browsers, the rebinding vector, always send it.
        if header is None or header in passed or "*" in allowed:
            return await handler(request)
        if host_name(header) in allowed:
            if len(passed) < 64:  # spellings of allowed names (case, port): a handful
                passed.add(header)
        else:
            raise Problem("host_not_allowed", f"this server does not answer for host "
                          f"{host_name(header)[:100]!r} (server.allowed_hosts)", "Host")
        return await handler(request)

    return middleware
