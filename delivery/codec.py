"""The one msgpack codec for messages, journal records and wire bodies.

A registered frozen dataclass travels as a msgpack extension holding its type name and field
values in order; tuples declared in the dataclass come back as tuples.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import msgpack

_EXT_DATACLASS = 1
_TYPES: dict[str, type] = {}
_TUPLE_FIELDS: dict[type, list[tuple[int, Any]]] = {}


class CodecError(ValueError):
    """Bytes that are not a valid encoding of a registered message."""


def register(*classes: type) -> None:
    """Make dataclasses encodable; their names must be unique."""
    for cls in classes:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        known = _TYPES.get(cls.__name__)
        if known is not None and known is not cls:
            raise TypeError(f"two message types named {cls.__name__}")
        _TYPES[cls.__name__] = cls


def registered() -> dict[str, type]:
    """Every registered type by name."""
    return dict(_TYPES)


def encode(obj: Any) -> bytes:
    """msgpack bytes of a registered dataclass or of plain data holding them."""
    return msgpack.packb(obj, default=_default, use_bin_type=True)


def decode(data: bytes) -> Any:
    """The object that `encode` turned into `data`."""
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except (ValueError, TypeError, KeyError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError) as exc:
        raise CodecError(str(exc)) from exc


def _default(obj: Any) -> Any:
    cls = type(obj)
    if _TYPES.get(cls.__name__) is not cls:
        raise TypeError(f"cannot encode {cls.__name__}: not a registered message type")
    values = [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    return msgpack.ExtType(_EXT_DATACLASS, encode([cls.__name__, *values]))


def _ext_hook(code: int, data: bytes) -> Any:
    if code != _EXT_DATACLASS:
        raise CodecError(f"unknown extension type {code}")
    name, *values = msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    cls = _TYPES.get(name)
    if cls is None:
        raise CodecError(f"unknown message type {name!r}")
    for index, hint in _tuple_fields(cls):
        values[index] = _as_tuple(values[index], hint)
    return cls(*values)


def _tuple_fields(cls: type) -> list[tuple[int, Any]]:
    if cls not in _TUPLE_FIELDS:
        hints = typing.get_type_hints(cls)
        _TUPLE_FIELDS[cls] = [(i, hints[f.name]) for i, f in enumerate(dataclasses.fields(cls))
                              if _tuple_hint(hints[f.name]) is not None]
    return _TUPLE_FIELDS[cls]


def _tuple_hint(hint: Any) -> Any:
    if typing.get_origin(hint) is tuple:
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next((a for a in typing.get_args(hint) if _tuple_hint(a) is not None), None)
    return None


def _as_tuple(value: Any, hint: Any) -> Any:
    hint = _tuple_hint(hint)
    if hint is None or not isinstance(value, list | tuple):
        return value
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_as_tuple(v, args[0]) for v in value)
    return tuple(_as_tuple(v, a) for v, a in zip(value, args, strict=False))


def _register_domain() -> None:
    from .domain import commands, events, geo, menu, notices, order, refusal

    register(geo.Location, commands.Address, menu.MenuItem, menu.OrderLine, refusal.Refusal,
             order.OrderState, notices.Notice, *commands.COMMAND_TYPES, *commands.STORE_COMMANDS,
             *commands.RIDER_COMMANDS, *events.EVENT_TYPES)


_register_domain()
