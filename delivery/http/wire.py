"""Request bodies in, documents out: JSON or msgpack by content negotiation; field validation."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgpack
import orjson
from aiohttp import web

from ..domain.geo import Location, check_location
from ..domain.refusal import Refusal
from ..jsontext import dumps
from .problems import Problem

JSON, MSGPACK = "application/json", "application/msgpack"

# C0 and C1 controls (NUL, CR/LF, ESC...), line/paragraph separators, and the bidi embeddings,
# overrides and isolates that can make a notification text read differently from what it is.
UNSAFE_CHARS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")


async def read_body(request: web.Request, optional: bool = False) -> Body:
    """The request body as a validated mapping; JSON or msgpack by Content-Type."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return Body({})
        raise Problem("malformed_body", "a request body is required")
    if "Content-Type" not in request.headers:
        # aiohttp would call it application/octet-stream; a body must say what it is.
        raise Problem("unsupported_media_type", "a body needs a Content-Type: application/json "
                      "or application/msgpack", "Content-Type")
    ctype = request.content_type
    try:
        if ctype == MSGPACK:
            data = msgpack.unpackb(raw, raw=False, strict_map_key=True)
        elif ctype == JSON or ctype.endswith("+json"):
            data = json.loads(raw, parse_constant=_reject_constant)
        else:
            raise Problem("unsupported_media_type", f"cannot read a body of type {ctype}")
    except (ValueError, UnicodeDecodeError, RecursionError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError, TypeError) as exc:
        raise Problem("malformed_body", f"the body is not valid {'msgpack' if ctype == MSGPACK else 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise Problem("malformed_body", "the body must be an object")
    return Body(data)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def wants_msgpack(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return MSGPACK in accept and JSON not in accept.split(MSGPACK)[0]


def respond(request: web.Request, data: Any, status: int = 200,
            headers: dict[str, str] | None = None) -> web.Response:
    """A document in the representation the client asked for."""
    if wants_msgpack(request):
        return web.Response(status=status, body=msgpack.packb(data, use_bin_type=True),
                            content_type=MSGPACK, headers=headers)
    # A final newline: a terminal's prompt after `curl` starts on its own line.
    return web.Response(status=status, body=json_bytes(data) + b"\n", content_type=JSON,
                        charset="utf-8", headers=headers)


def json_bytes(data: Any) -> bytes:
    """`jsontext.dumps(data)` as UTF-8, by orjson (several times faster on a page of stores);
    the same document, though a float may be spelled differently (1e-05 is 1e-5)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits, which json can spell
        return dumps(data).encode()


def respond_json_text(request: web.Request, text: str, status: int = 200,
                      headers: dict[str, str] | None = None) -> web.Response:
    """A document already serialised as JSON (read-model views) in the wanted representation."""
    if wants_msgpack(request):
        return respond(request, json.loads(text), status, headers)
    return web.Response(status=status, text=text + "\n", content_type=JSON, headers=headers)


class Body:
    """Typed access to request fields; every failure names the field."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data, self.prefix = data, prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.data or self.data[key] is None:
            if required:
                raise Problem("missing_field", f"{self._name(key)} is required", self._name(key))
            return None
        return self.data[key]

    def str(self, key: str, required: bool = True, max_len: int = 200, default: str = "") -> str:
        """A text field, stripped; refused when not a string (null included), empty though
        required, longer than max_len as sent, or holding a control or bidi character."""
        name = self._name(key)
        if not required and key in self.data and self.data[key] is None:
            # Optional means "may be left out", not "may be null": the schema says string.
            raise Problem("invalid_field", f"{name} must be a string (leave it out instead of null)",
                          name)
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise Problem("invalid_field", f"{name} must be a string", name)
        if len(value) > max_len:
            raise Problem("invalid_field", f"{name} is longer than {max_len} characters", name)
        if bad := _UNSAFE.search(value):
            raise Problem("invalid_field", f"{name} must not contain control or bidirectional "
                          f"formatting characters (found U+{ord(bad.group()):04X})", name)
        value = value.strip()
        if required and not value:
            raise Problem("invalid_field", f"{name} must not be empty", name)
        return value

    def int(self, key: str, low: int, high: int) -> int:
        value = self._get(key, True)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON does not tell 2 from 2.0; JSON Schema's integer is both
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Problem("invalid_field", f"{self._name(key)} must be an integer {low}..{high}",
                          self._name(key))
        return value

    def number(self, key: str) -> float:
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise Problem("invalid_field", f"{self._name(key)} must be a number", self._name(key))
        return float(value)

    def obj(self, key: str) -> Body:
        value = self._get(key, True)
        if not isinstance(value, dict):
            raise Problem("invalid_field", f"{self._name(key)} must be an object", self._name(key))
        return Body(value, self._name(key) + ".")

    def list(self, key: str, max_items: int) -> list[Body]:
        value = self._get(key, True)
        if not isinstance(value, list) or not value:
            raise Problem("invalid_field", f"{self._name(key)} must be a non-empty list",
                          self._name(key))
        if len(value) > max_items:
            raise Problem("invalid_field", f"{self._name(key)} has more than {max_items} items",
                          self._name(key))
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise Problem("invalid_field", f"{self._name(key)}[{i}] must be an object",
                              f"{self._name(key)}[{i}]")
            items.append(Body(item, f"{self._name(key)}[{i}]."))
        return items

    def location(self, key: str | None = None) -> Location:
        """A {lat, lon} object (or this body itself when key is None), range-checked."""
        body = self.obj(key) if key else self
        where = self._name(key) if key else self.prefix.rstrip(".")
        lat, lon = body.number("lat"), body.number("lon")
        checked = check_location(lat, lon, where)
        if isinstance(checked, Refusal):
            raise Problem.from_refusal(checked)
        return checked


def query_number(request: web.Request, name: str, low: float, high: float) -> float | None:
    """A number from the query string within low..high, None when absent (400 naming it)."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Problem("invalid_query", f"{name} must be a number", name) from None
    if not low <= value <= high:
        raise Problem("invalid_query", f"{name} must be within {low:g}..{high:g}", name)
    return value
