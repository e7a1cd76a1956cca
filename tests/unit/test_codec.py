"""The msgpack codec round-trips every message type of the service."""

import concurrent.futures
import dataclasses
import inspect
import typing

import pytest

from delivery import codec
from delivery.actors import messages
from delivery.domain import commands, events, geo, menu, notices, order, refusal


def _all_message_types() -> set[type]:
    modules = (messages, commands, events, geo, menu, notices, order, refusal)
    found = set()
    for module in modules:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__:
                found.add(obj)
    return found - {events.Event}  # the abstract base of events is never sent


SAMPLES = {str: "x", int: 7, float: 1.5, bool: True}


def _sample(hint):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in SAMPLES:
        return SAMPLES[hint]
    if dataclasses.is_dataclass(hint):
        return _instance(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (_sample(args[0]), _sample(args[0]))
        return tuple(_sample(a) for a in args)
    if origin is dict:
        return {"k": [1, 2], "n": {"m": None}}
    if args:  # a union: take its first non-None member
        return _sample(next(a for a in args if a is not type(None)))
    return {"any": [1, "two", None]}


def _instance(cls):
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name]) for f in dataclasses.fields(cls) if f.init})


def test_every_message_type_is_registered_unless_it_carries_actor_addresses():
    missing = {t.__name__ for t in _all_message_types()
               if t not in messages.TRANSPORT_ONLY and codec.registered().get(t.__name__) is not t}
    assert missing == set()


@pytest.mark.parametrize("cls", sorted((t for t in _all_message_types()
                                        if t not in messages.TRANSPORT_ONLY),
                                       key=lambda t: t.__name__), ids=lambda t: t.__name__)
def test_every_message_survives_a_round_trip(cls):
    message = _instance(cls)
    assert codec.decode(codec.encode(message)) == message


def test_nested_messages_and_tuples_come_back_with_their_types():
    placed = events.OrderPlaced("o", "o:1", 1, "t", "c", "s",
                                (menu.OrderLine("m1", "Rice", 1000, 2),), 2000,
                                commands.Address(1.0, 2.0, "here"))
    back = codec.decode(codec.encode([placed, {"k": placed}]))
    assert back == [placed, {"k": placed}]
    assert isinstance(back[0].lines, tuple) and isinstance(back[0].lines[0], menu.OrderLine)


def test_unregistered_types_and_garbage_are_errors():
    @dataclasses.dataclass(frozen=True)
    class Stranger:
        x: int

    with pytest.raises(TypeError):
        codec.encode(Stranger(1))
    with pytest.raises(codec.CodecError):
        codec.decode(b"\xc7\x03\x09abc")  # an extension type nobody registered
    with pytest.raises(codec.CodecError):
        codec.decode(b"\xc1")


def test_a_failed_encoding_leaves_nothing_behind_for_the_next_one():
    """The packers are kept per thread and depth: one that failed half-way through a nested
    message must start the next message clean, in this thread and in others."""
    @dataclasses.dataclass(frozen=True)
    class Stranger:
        x: int

    placed = events.OrderPlaced("o", "o:1", 1, "t", "c", "s",
                                (menu.OrderLine("m1", "Rice", 1000, 2),), 2000,
                                commands.Address(1.0, 2.0, "here"))
    expected = codec.encode(placed)
    with pytest.raises(TypeError):
        codec.encode([placed, {"deep": [placed, Stranger(1)]}])  # fails two levels down
    assert codec.encode(placed) == expected
    assert codec.decode(codec.encode([placed, placed])) == [placed, placed]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert set(pool.map(lambda _: codec.encode(placed), range(200))) == {expected}


def test_a_stream_gives_back_each_object_however_the_bytes_are_cut():
    placed = events.OrderPlaced("o", "o:1", 1, "t", "c", "s",
                                (menu.OrderLine("m1", "Rice", 1000, 2),), 2000,
                                commands.Address(1.0, 2.0, "here"))
    sent = [[1, "orders", placed], [2, "x", None], messages.Reply("r1", {"id": "o"})]
    data = b"".join(codec.encode(obj) for obj in sent)
    for size in (1, 3, 7, len(data)):
        stream, got = codec.stream(), []
        for start in range(0, len(data), size):
            stream.feed(data[start:start + size])
            got += list(stream)
        assert got == sent
    assert isinstance(got[0][2].lines, tuple)


def test_a_stream_that_holds_an_unknown_type_is_an_error():
    stream = codec.stream()
    stream.feed(codec.encode([1]) + b"\xc7\x03\x09abc")
    assert next(stream) == [1]
    with pytest.raises(codec.CodecError):
        next(stream)


def test_the_settings_cross_to_the_actor_process_whole():
    from delivery import config
    from delivery.actors.host import register_settings

    register_settings()
    settings = config.load(env={}, **{"actors.own_process": True, "server.port": 9999})
    assert codec.decode(codec.encode(settings)) == settings
