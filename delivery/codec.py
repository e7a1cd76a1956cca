"""The one msgpack codec for messages, journal records and wire bodies.

A registered frozen dataclass travels as a msgpack extension holding its type name and field
values in order; tuples declared in the dataclass come back as tuples.
"""

from __future__ import annotations

import dataclasses
import operator
import threading
import types
import typing
from collections.abc import Callable
from typing import Any

import msgpack

_EXT_DATACLASS = 1
_TYPES: dict[str, type] = {}
Convert = Callable[[Any], Any]
_TUPLE_FIELDS: dict[type, list[tuple[int, Convert]]] = {}  # see _tuple_fields


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


_LOCAL = threading.local()  # this thread's packers, one per depth of nested dataclasses


def encode(obj: Any) -> bytes:
    """msgpack bytes of a registered dataclass or of plain data holding them."""
    # A Packer is made once per thread and depth, not per call (making one cost more than
    # packing a small event); a nested dataclass is packed, from `_default`, one level down.
    local = _LOCAL.__dict__
    depth = local.get("depth", 0)
    packers = local.setdefault("packers", [])
    if depth == len(packers):
        packers.append(msgpack.Packer(default=_default, use_bin_type=True))
    local["depth"] = depth + 1
    try:
        return packers[depth].pack(obj)
    finally:
        local["depth"] = depth


def decode(data: bytes) -> Any:
    """The object that `encode` turned into `data`."""
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except (ValueError, TypeError, KeyError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError) as exc:
        raise CodecError(str(exc)) from exc


def stream() -> msgpack.Unpacker:
    """A decoder of a byte stream of encoded objects: `feed` it what arrives, then iterate it
    for the objects complete so far (a bad one raises CodecError)."""
    return _Stream(ext_hook=_ext_hook, raw=False, strict_map_key=False)


class _Stream(msgpack.Unpacker):
    def __next__(self) -> Any:
        try:
            return super().__next__()
        except (ValueError, TypeError, KeyError, msgpack.FormatError, msgpack.StackError) as exc:
            raise CodecError(str(exc)) from exc


def _default(obj: Any) -> Any:
    cls = type(obj)
    values = _VALUES.get(cls)
    if values is None:
        if _TYPES.get(cls.__name__) is not cls:
            raise TypeError(f"cannot encode {cls.__name__}: not a registered message type")
        values = _VALUES[cls] = _field_values(cls)
    return msgpack.ExtType(_EXT_DATACLASS, encode(values(obj)))


def _field_values(cls: type) -> Callable[[Any], list[Any]]:
    """[the type's name, the field values in order] of an instance."""
    name, fields = cls.__name__, [f.name for f in dataclasses.fields(cls)]
    if len(fields) > 1:
        get = operator.attrgetter(*fields)
        return lambda obj: [name, *get(obj)]
    return lambda obj: [name, *(getattr(obj, f) for f in fields)]


_VALUES: dict[type, Callable[[Any], list[Any]]] = {}
"""Registered type -> [its name, its field values in order] of an instance, made once a type."""


def _ext_hook(code: int, data: bytes) -> Any:
    if code != _EXT_DATACLASS:
        raise CodecError(f"unknown extension type {code}")
    name, *values = msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    cls = _TYPES.get(name)
    if cls is None:
        raise CodecError(f"unknown message type {name!r}")
    for index, as_tuple in _tuple_fields(cls):
        values[index] = as_tuple(values[index])
    return cls(*values)


def _tuple_fields(cls: type) -> list[tuple[int, Convert]]:
    """(index, conversion) of the fields declared as tuples (msgpack gives lists back)."""
    if cls not in _TUPLE_FIELDS:
        hints = typing.get_type_hints(cls)
        conversions = [(i, _as_tuple(hints[f.name])) for i, f in enumerate(dataclasses.fields(cls))]
        _TUPLE_FIELDS[cls] = [(i, convert) for i, convert in conversions if convert is not None]
    return _TUPLE_FIELDS[cls]


def _tuple_hint(hint: Any) -> Any:
    if typing.get_origin(hint) is tuple:
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next((a for a in typing.get_args(hint) if _tuple_hint(a) is not None), None)
    return None


def _as_tuple(hint: Any) -> Convert | None:
    """What turns a decoded value of a field declared `hint` back into tuples (None: nothing
    to do); worked out once a type, since reading type hints is slow."""
    hint = _tuple_hint(hint)
    if hint is None:
        return None
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        item = _as_tuple(args[0]) or _same
        return lambda value: tuple(map(item, value)) if isinstance(value, list | tuple) else value
    items = [_as_tuple(a) or _same for a in args]
    return lambda value: (tuple(convert(v) for v, convert in zip(value, items, strict=False))
                          if isinstance(value, list | tuple) else value)


def _same(value: Any) -> Any:
    return value


def _register_domain() -> None:
    from .domain import commands, events, geo, menu, notices, order, refusal

    register(geo.Location, commands.Address, menu.MenuItem, menu.OrderLine, refusal.Refusal,
             order.OrderState, notices.Notice, *commands.COMMAND_TYPES, *commands.STORE_COMMANDS,
             *commands.RIDER_COMMANDS, *events.EVENT_TYPES)


_register_domain()
