"""Errors as RFC 9457 problem documents with a stable `code`, made of whatever a request raised
(`failure_response`, called by the front door's middleware, front.py)."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from typing import Any

from aiohttp import web

from ..actors.system import ActorFailure, ActorSystemUnavailable
from ..domain.refusal import Refusal
from ..jsontext import dumps
from ..logs import REQUEST_ID
from ..persistence.faults import HEALTH, StorageFault

log = logging.getLogger("delivery.http")

_PROCESS = secrets.token_hex(8)
_SERIAL = itertools.count(1)


def _new_process() -> None:
    global _PROCESS, _SERIAL
    _PROCESS, _SERIAL = secrets.token_hex(8), itertools.count(1)


os.register_at_fork(after_in_child=_new_process)  # a forked child numbers its own requests


def new_request_id() -> str:
    """An id unique across processes and restarts, as long as a uuid4's hex (32 digits): this
    process's random half and a serial number. A uuid4 per request cost ~3 % of a read."""
    return f"{_PROCESS}{next(_SERIAL):016x}"

PROBLEM_TYPE = "application/problem+json"
MAX_BODY = 64 * 1024  # bytes of a request body

# Every code the API answers with, its HTTP status and title; the OpenAPI document lists them.
CODES: dict[str, tuple[int, str]] = {
    "malformed_body": (400, "The body could not be parsed"),
    "invalid_query": (400, "A query parameter is invalid"),
    "body_incomplete": (400, "The body ended before its announced length"),
    "missing_field": (422, "A required field is missing"),
    "invalid_field": (422, "A field has a wrong type or value"),
    "unknown_menu_item": (422, "The menu item is not on the store's menu"),
    "implausible_location": (422, "The location implies an impossible speed since the last one"),
    "idempotency_key_reused": (422, "The Idempotency-Key was used with another body"),
    "unauthorized": (401, "A valid bearer token is required"),
    "payment_declined": (402, "The card was declined"),
    "forbidden": (403, "This token may not act on that resource"),
    "wrong_role": (403, "This endpoint needs a token of another role"),
    "not_approved": (403, "The store or rider is pending approval or suspended"),
    "out_of_range": (403, "The rider is too far from the delivery address"),
    "not_found": (404, "No such resource"),
    "method_not_allowed": (405, "Method not allowed"),
    "not_acceptable": (406, "Cannot produce the requested media type"),
    "request_timeout": (408, "The body did not arrive in time"),
    "order_not_cancellable": (409, "The order can no longer be cancelled"),
    "invalid_transition": (409, "The order is not in a state that allows this"),
    "already_paid": (409, "The order is already paid"),
    "already_picked": (409, "Another rider already picked the order up"),
    "payment_in_progress": (409, "A payment of this order is in progress"),
    "conflict": (409, "The request conflicts with the current state"),
    "already_registered": (409, "This Idempotency-Key already registered someone; the token "
                                "went to the first request only"),
    "too_many_unpaid_orders": (409, "Too many placed orders wait for payment; pay or cancel one"),
    "body_too_large": (413, "The body is too large"),
    "unsupported_media_type": (415, "Send application/json or application/msgpack"),
    "limit_too_large": (422, "limit is above the largest page"),
    "too_many_streams": (429, "This token has as many event streams open as allowed"),
    "rate_limited": (429, "Too many requests; retry after Retry-After"),
    "host_not_allowed": (421, "This server does not answer for that Host (server.allowed_hosts)"),
    "internal_error": (500, "Internal error"),
    "payment_unavailable": (503, "Payment is unavailable right now; pay a little later"),
    "service_unavailable": (503, "The service cannot answer right now"),
    "overloaded": (503, "The node is at its limit of commands in flight; retry after Retry-After"),
    "storage_unavailable": (503, "The disk did not take the write (full or failing); nothing was "
                                 "saved; retry after Retry-After"),
}


class Problem(Exception):
    """An error answer; raised anywhere in a request, rendered by the middleware."""

    def __init__(self, code: str, detail: str, field: str | None = None,
                 retry_after: float | None = None, status: int | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.field, self.retry_after = code, detail, field, retry_after
        self.extra = extra or {}
        self.status = status or CODES[code][0]

    @classmethod
    def from_refusal(cls, refusal: Refusal) -> Problem:
        return cls(refusal.code if refusal.code in CODES else "conflict", refusal.detail,
                   refusal.field, refusal.retry_after_s)

    def response(self, request_id: str) -> web.Response:
        body = {"type": f"https://delivery.example/problems/{self.code}",
                "title": CODES.get(self.code, ("", "Error"))[1], "status": self.status,
                "detail": self.detail, "code": self.code, "request_id": request_id}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        headers = {"X-Request-Id": request_id}
        if self.retry_after is not None:
            body["retry_after_s"] = self.retry_after
            headers["Retry-After"] = str(max(1, round(self.retry_after + 0.499)))
        return web.Response(status=self.status, text=dumps(body) + "\n",
                            content_type=PROBLEM_TYPE, headers=headers)


_HTTP_CODES = {400: "malformed_body", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "body_too_large",
               415: "unsupported_media_type"}


def request_id_of(request: web.Request) -> str:
    """The request's id (the client's X-Request-Id, else a new one), kept for the access log."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or new_request_id()
    request[REQUEST_ID] = request_id
    return request_id


def failure_response(request: web.Request, failure: Exception, request_id: str) -> web.Response:
    """The problem document of whatever a request raised; never a stack trace in a body. (An
    HTTP exception below 400, a redirect, is not a failure: the caller lets it through.)"""
    if isinstance(failure, Problem):
        if failure.code == "storage_unavailable":
            HEALTH.failed(failure.detail)  # an actor process's fault: /ready reports it here too
        return failure.response(request_id)
    if isinstance(failure, StorageFault):  # a write of the front door itself (registration, key)
        return Problem("storage_unavailable", f"nothing was saved: {failure.reason}",
                       retry_after=failure.retry_after_s).response(request_id)
    if isinstance(failure, web.HTTPException):
        code = _HTTP_CODES.get(failure.status, "internal_error")
        detail = failure.reason if failure.status != 413 else f"the body exceeds {MAX_BODY} bytes"
        if failure.status == 404:
            detail = f"no resource at {request.path}"
        elif failure.status == 405:
            detail = f"{request.method} is not allowed on {request.path}"
        return Problem(code, detail, status=failure.status).response(request_id)
    if isinstance(failure, ActorSystemUnavailable):
        return Problem("service_unavailable", str(failure), retry_after=1.0).response(request_id)
    if isinstance(failure, ActorFailure):
        log.error("request %s: an actor failed", request_id, exc_info=failure)
    else:
        log.error("request %s failed", request_id, exc_info=failure)
    return Problem("internal_error", f"internal error; quote request id {request_id}").response(request_id)
