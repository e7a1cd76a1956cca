"""Actors dispatch on the message's type through handlers registered by reference: envelopes by
their body, timers by their payload; a message without a handler is logged, never dropped quietly."""

import logging
from dataclasses import dataclass

from thespian.actors import WakeupMessage

from delivery.actors.base import ServiceActor, handles
from delivery.actors.messages import Envelope


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class Stray:
    pass


class Recorder(ServiceActor):
    KIND = "recorder"

    def __init__(self):
        super().__init__()
        self.seen = []

    @handles(Ping)
    def on_ping(self, message, sender):
        self.seen.append(("ping", message))

    @handles(Tick)
    def on_tick(self, message, sender):
        self.seen.append(("tick", message))


class Louder(Recorder):
    def on_ping(self, message, sender):  # an override by name overrides the handler
        self.seen.append(("loud", message))


def test_a_message_an_envelope_and_a_timer_each_reach_their_handler():
    actor = Recorder()
    actor.receiveMessage(Ping(1), None)
    actor.receiveMessage(Envelope("c1", Ping(2)), None)
    actor.receiveMessage(WakeupMessage(0.1, Tick()), None)
    assert [kind for kind, _ in actor.seen] == ["ping", "ping", "tick"]
    assert actor.seen[1][1].body == Ping(2)  # the handler gets the envelope, to reply to it
    assert actor.messages_in == 3


def test_a_subclass_overriding_a_handler_by_name_gets_the_message():
    actor = Louder()
    actor.receiveMessage(Ping(1), None)
    assert actor.seen == [("loud", Ping(1))]
    assert Louder.dispatch[Tick] == "on_tick"


def test_a_message_without_a_handler_is_logged_as_a_warning(caplog):
    actor = Recorder()
    with caplog.at_level(logging.WARNING, logger="delivery.actors"):
        actor.receiveMessage(Stray(), None)
        actor.receiveMessage(Envelope("c2", Stray()), None)
    assert actor.seen == []
    warnings = [r for r in caplog.records if "no handler for Stray" in r.getMessage()]
    assert len(warnings) == 2
