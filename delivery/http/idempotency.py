"""Idempotency-Key on creating POSTs: the same key and body replay the first answer.

Ids (and registration tokens) of a keyed request are derived from the key with the server's
secret, so a retry that races the first attempt lands on the same entity instead of a second one,
and a replayed registration can return its token again although only the token's hash is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .. import clock
from ..jsontext import dumps
from ..persistence.idempotency import Answer, IdempotencyRecords
from .keys import DB, SECRET
from .problems import Problem
from .wire import respond

MAX_KEY = 200
SECRETS = ("token",)

Create = Callable[["Keyed | None"], Awaitable[tuple[int, dict[str, Any], dict[str, str]]]]


class Keyed:
    """Deterministic values for one (scope, key)."""

    def __init__(self, secret: bytes, scope: str, key: str) -> None:
        self.secret, self.scope, self.key = secret, scope, key

    def derive(self, purpose: str, size: int = 20) -> str:
        mac = hmac.new(self.secret, f"{purpose}\0{self.scope}\0{self.key}".encode(), hashlib.sha256)
        return mac.hexdigest()[:size]

    def id(self, prefix: str) -> str:
        return f"{prefix}_{self.derive('id')}"

    def token(self) -> str:
        return self.derive("token", 43)


async def idempotent(request: web.Request, scope: str, create: Create) -> web.Response:
    """Run `create` once per Idempotency-Key; replay its answer for the same key and body."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, data, headers = await create(None)
        return respond(request, data, status, headers)
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise Problem("invalid_field", f"Idempotency-Key must be 1..{MAX_KEY} printable characters",
                      "Idempotency-Key")
    body_hash = hashlib.sha256(await request.read()).hexdigest()
    records = IdempotencyRecords(request.app[DB])
    keyed = Keyed(request.app[SECRET], scope, key)
    first = records.find(scope, key)
    if first is not None:
        if first.body_hash != body_hash:
            raise Problem("idempotency_key_reused",
                          "this Idempotency-Key was used with a different body", "Idempotency-Key")
        stored = json.loads(first.response)
        data = _restore(stored["data"], keyed)
        return respond(request, data, first.status, {**stored["headers"], "Idempotent-Replayed": "true"})
    status, data, headers = await create(keyed)
    if status < 300:
        stored = dumps({"data": _strip(data), "headers": headers})
        records.keep(scope, key, Answer(body_hash, status, stored), clock.now())
    return respond(request, data, status, headers)


def _strip(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if k in SECRETS else v) for k, v in data.items()}


def _restore(data: dict[str, Any], keyed: Keyed) -> dict[str, Any]:
    return {k: (keyed.token() if k in SECRETS and k in data else v) for k, v in data.items()}
