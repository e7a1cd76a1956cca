"""Idempotency-Key on creating POSTs: one key, one body, one entity, for `idempotency.ttl_h` hours.

The key is claimed before anything is created, with the id of what the request will create, so
retries that race the first attempt land on that same entity instead of a second one.

Orders replay their first answer (an order view holds no secret). Registrations never do: the
answer holds a bearer token, and a repeated key proves nothing about who sends it (the key space
of registrations is shared by everyone, nobody is logged in yet). The first request gets the
token; every repeat gets `409 already_registered` with the id only. Tokens are random and kept
only as hashes, so not even the server can hand one out twice.

A key reused with another body is `422 idempotency_key_reused`. Its document is the same fixed
text whoever first used the key and whatever they created: it confirms only what the sender
already holds (the key), never an id, status, time or token of the first request. Keys are
meant to be random (a UUID), so nobody learns of someone else's key by guessing.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..ids import new_id
from ..jsontext import dumps
from ..persistence.idempotency import IN_PROGRESS, Claim, IdempotencyRecords
from .keys import DB, SETTINGS
from .problems import Problem
from .wire import respond

MAX_KEY = 200
# Printable ASCII (an sf-string, as the IETF Idempotency-Key draft has it), no space at either end
# (HTTP strips it); the OpenAPI document states the same pattern.
KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"
SECRETS = ("token",)
REUSED = "this Idempotency-Key was used with a different body; use a new key for a new request"

CLOCK = web.AppKey("idempotency_clock", Callable[[], float])
"""Wall clock (epoch seconds) of key expiry; tests put a fake one here."""

Create = Callable[[str], Awaitable[tuple[int, dict[str, Any], dict[str, str]]]]
"""Creates the entity of the given id; returns (status, data, headers)."""


async def idempotent(request: web.Request, scope: str, prefix: str, create: Create,
                     replay: bool = True) -> web.Response:
    """Run `create` once per Idempotency-Key and body; `replay`: repeats get the first answer
    (False: `409 already_registered` with the id, for answers that hold a secret)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return respond(request, *_reordered(await create(new_id(prefix))))
    if len(key) > MAX_KEY or not re.fullmatch(KEY_PATTERN, key):
        raise Problem("invalid_field", f"Idempotency-Key must be 1..{MAX_KEY} printable ASCII "
                      "characters", "Idempotency-Key")
    body_hash = hashlib.sha256(await request.read()).hexdigest()
    records = IdempotencyRecords(request.app[DB])
    now = request.app.get(CLOCK, time.time)()
    ttl_s = request.app[SETTINGS].idempotency.ttl_s
    claim = records.claim(scope, key, body_hash, new_id(prefix), now, ttl_s)
    if claim.body_hash != body_hash:
        raise Problem("idempotency_key_reused", REUSED, "Idempotency-Key")
    if claim.ours:
        return await _first(request, records, scope, key, claim.entity_id, create)
    if not replay:
        raise Problem("already_registered", f"this Idempotency-Key already registered "
                      f"{claim.entity_id}; its token was given to the first request only",
                      extra={"id": claim.entity_id})
    if claim.status == IN_PROGRESS:
        # The first attempt is still running: create the same entity, which answers as it does.
        return respond(request, *_reordered(await create(claim.entity_id)))
    return _replayed(request, claim)


async def _first(request: web.Request, records: IdempotencyRecords, scope: str, key: str,
                 entity_id: str, create: Create) -> web.Response:
    try:
        status, data, headers = await create(entity_id)
    except BaseException:
        records.release(scope, key)
        raise
    if status < 300:
        records.answer(scope, key, status, dumps({"data": _strip(data), "headers": headers}))
    else:
        records.release(scope, key)
    return respond(request, data, status, headers)


def _replayed(request: web.Request, claim: Claim) -> web.Response:
    stored = json.loads(claim.response)
    headers = {**stored["headers"], "Idempotent-Replayed": "true"}
    return respond(request, stored["data"], claim.status, headers)


def _reordered(answer: tuple[int, dict[str, Any], dict[str, str]]):
    status, data, headers = answer
    return data, status, headers


def _strip(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in SECRETS}
