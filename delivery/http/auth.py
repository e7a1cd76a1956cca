"""Who is calling: bearer tokens of customers, stores and riders, and the admin token.

The router applies each route's `auth` (routes.Route) before its view runs: `guard` checks the
caller and keeps who it is for the view (`caller`), so no view can forget to check.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiohttp import web

from ..domain.geo import Location
from ..domain.onboarding import APPROVED
from ..persistence.directory import Holder, hash_token
from .keys import ADMIN_TOKEN, DIRECTORY
from .problems import Problem


def bearer_token(request: web.Request) -> str | None:
    """The bearer token the request carries, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


TOKEN_HASH = web.RequestKey("token_hash", str)


def token_hash(request: web.Request) -> str | None:
    """The stored form of the request's bearer token (`hash_token`), or None without one;
    worked out once a request: the rate limits and the holder's lookup both need it."""
    hashed = request.get(TOKEN_HASH)
    if hashed is None:
        token = bearer_token(request)
        if token is None:
            return None
        hashed = request[TOKEN_HASH] = hash_token(token)
    return hashed


def _holder_of(request: web.Request) -> Holder | None:
    """Who holds the request's bearer token; None without a token or for an unknown one."""
    hashed = token_hash(request)
    return None if hashed is None else request.app[DIRECTORY].holder_by_hash(hashed)


def bearer(request: web.Request) -> str:
    token = bearer_token(request)
    if token is None:
        raise Problem("unauthorized", "send Authorization: Bearer <token>")
    return token


HOLDER = web.RequestKey("holder", Holder)
"""The holder `holder` found, as read with the token (a rider's location too: see `located`)."""


def holder(request: web.Request, kind: str) -> Holder:
    """The customer, store or rider (`kind`) whose token the request carries, with its status.

    401 without a token or with an unknown one; 403 `wrong_role` for another role's token.
    """
    found = _holder_of(request)  # reads the token once; `bearer` only on the way to a refusal
    if found is None or found.kind != kind:
        refuse(request, bearer(request), found, kind[:-1])
    request[HOLDER] = found
    return found


def located(request: web.Request) -> Location | None:
    """The calling rider's last reported location, read with its token (no second lookup)."""
    return request[HOLDER].location


def principal(request: web.Request, kind: str) -> str:
    """The id of the customer, store or rider whose token the request carries (see `holder`)."""
    return holder(request, kind).id


def _role(request: web.Request, token: str, found: Holder | None) -> str | None:
    if _is_admin(request, token):
        return "admin"
    return found.kind[:-1] if found is not None else None


def refuse(request: web.Request, token: str, found: Holder | None, wanted: str) -> NoReturn:
    """Refuse a token that is not `wanted`'s (`found` holds it): 403 if it is a valid token of
    another role.

    The role is checked before any resource is looked at, so a 403 here tells nothing about
    whether the resource exists.
    """
    role = _role(request, token, found)
    if role is None:
        raise Problem("unauthorized", f"the token is unknown (this endpoint needs the {wanted} role)")
    raise Problem("wrong_role", f"this endpoint needs the {wanted} role; the token sent has role {role}")


def anyone(request: web.Request) -> tuple[str, str]:
    """(kind, id) of the customer, store or rider whose token the request carries."""
    found = _holder_of(request)
    if found is None:
        refuse(request, bearer(request), None, "customer, store or rider")
    return found.kind, found.id


def customer(request: web.Request) -> str:
    return principal(request, "customers")


def store(request: web.Request) -> str:
    return principal(request, "stores")


def rider(request: web.Request) -> str:
    return principal(request, "riders")


def own_store(request: web.Request) -> str:
    """The store in the path, when the token is that store's (403 for another store's token)."""
    return _own_store(request).id


def _own_store(request: web.Request) -> Holder:
    found = holder(request, "stores")
    if found.id != request.match_info["store_id"]:
        raise Problem("forbidden", "a store token acts on its own store only")
    return found


def approved_store(request: web.Request) -> str:
    """`own_store`, and for anything but reading itself (GET) a store the admin approved."""
    found = _own_store(request)
    if request.method != "GET":
        require_approved(found)
    return found.id


def approved_rider(request: web.Request) -> str:
    """`rider`, approved: a pending or suspended rider may neither move, look for deliveries
    (other people's orders) nor pick. What it picked before stays readable (GET /orders/{id})."""
    found = holder(request, "riders")
    require_approved(found)
    return found.id


def require_approved(found: Holder) -> None:
    """Refuse a store or rider whose status (as read with its token) is not approved."""
    if found.status != APPROVED:
        kind = found.kind[:-1]
        raise Problem("not_approved", f"this {kind} is {found.status}: only the admin's approval "
                                      "lets it act (it may still read its own resources)")


def presents(request: web.Request, kind: str, id: str) -> bool:
    """Whether the request carries the token of this store or rider (no token: False)."""
    found = _holder_of(request)
    return found is not None and (found.kind, found.id) == (kind, id)


def admin(request: web.Request) -> None:
    token = bearer(request)
    if not _is_admin(request, token):
        refuse(request, token, _holder_of(request), "admin")


def _is_admin(request: web.Request, token: str) -> bool:
    return hmac.compare_digest(token.encode("utf-8", "surrogateescape"),
                               request.app[ADMIN_TOKEN].encode())


@functools.lru_cache(maxsize=1024)  # asked on every request; parsing cost ~2 % of one
def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def loopback_only(request: web.Request) -> None:
    if not is_loopback(request.remote):
        raise Problem("forbidden", "metrics are served to loopback clients only")


PRINCIPAL = web.RequestKey("principal", object)
"""Where the router keeps the caller of a request (see `caller`)."""

CHECKS: dict[str, Callable[[web.Request], Any]] = {
    "customer": customer, "store": approved_store, "rider": approved_rider, "any": anyone,
    "admin": admin,
    "loopback": loopback_only,
}
"""Route.auth -> the check the router runs before the view ("none": no check)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard(kind: str, handler: Handler) -> Handler:
    """`handler` behind the check of `kind`; the caller it finds is kept for the view."""
    if kind == "none":
        return handler
    check = CHECKS[kind]

    async def guarded(request: web.Request) -> web.StreamResponse:
        request[PRINCIPAL] = check(request)
        return await handler(request)

    guarded.__name__ = getattr(handler, "__name__", "guarded")
    return guarded


def caller(request: web.Request) -> Any:
    """Who the router found calling: a customer's, store's or rider's id; (kind, id) for routes
    open to any of them."""
    return request[PRINCIPAL]
