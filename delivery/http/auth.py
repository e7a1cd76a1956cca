"""Who is calling: bearer tokens of customers, stores and riders, and the admin token."""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from .keys import ADMIN_TOKEN, DIRECTORY
from .problems import Problem


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem("unauthorized", "send Authorization: Bearer <token>")
    return token.strip()


def principal(request: web.Request, kind: str) -> str:
    """The id of the customer, store or rider whose token the request carries (401 if none)."""
    found = request.app[DIRECTORY].identify(kind, bearer(request))
    if found is None:
        raise Problem("unauthorized", f"the token is not a valid {kind[:-1]} token")
    return found


def customer(request: web.Request) -> str:
    return principal(request, "customers")


def store(request: web.Request) -> str:
    return principal(request, "stores")


def rider(request: web.Request) -> str:
    return principal(request, "riders")


def own_store(request: web.Request) -> str:
    """The store in the path, when the token is that store's (403 for another store's token)."""
    store_id = store(request)
    if store_id != request.match_info["store_id"]:
        raise Problem("forbidden", "a store token acts on its own store only")
    return store_id


def admin(request: web.Request) -> None:
    token = bearer(request)
    if not hmac.compare_digest(token.encode(), request.app[ADMIN_TOKEN].encode()):
        raise Problem("unauthorized", "the admin token is required")


def loopback_only(request: web.Request) -> None:
    remote = request.remote or ""
    try:
        if ipaddress.ip_address(remote).is_loopback:
            return
    except ValueError:
        pass
    raise Problem("forbidden", "metrics are served to loopback clients only")
