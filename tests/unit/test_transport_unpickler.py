"""The actor transport's unpickler builds our messages and nothing that runs code."""

from __future__ import annotations

import os
import pickle

import pytest
from thespian.actors import ValidateSource
from thespian.system.messages.admin import PendingActor, RegisterSourceAuthority

from delivery.actors import unpickler
from delivery.actors.messages import Boot, Envelope, GetStats
from delivery.config import RuntimeFacts
from tests.conftest import make_settings


class RunsCommand:
    def __reduce__(self):
        return os.system, ("true",)


def test_a_reduce_payload_is_refused_before_anything_runs():
    with pytest.raises(unpickler.RefusedFrame, match="system"):
        unpickler.loads(pickle.dumps(RunsCommand()))


def test_a_dotted_name_cannot_walk_from_an_allowed_module_to_os_system():
    walk = b"\x80\x04cdelivery.config\nos.system\n."  # protocol 4 resolves dotted names
    assert pickle.loads(walk) is os.system  # what the plain unpickler would hand over
    with pytest.raises(unpickler.RefusedFrame):
        unpickler.loads(walk)


def test_a_function_of_an_allowed_module_is_refused():
    with pytest.raises(unpickler.RefusedFrame, match="delivery.config.load"):
        unpickler.loads(b"\x80\x04cdelivery.config\nload\n.")


def test_thespian_messages_that_load_code_are_refused():
    for message in (ValidateSource("h", b"zip"), RegisterSourceAuthority(None)):
        with pytest.raises(unpickler.RefusedFrame, match=type(message).__name__):
            unpickler.loads(pickle.dumps((None, message)))


def test_creating_an_actor_that_is_not_ours_is_refused():
    foreign = PendingActor("os.system", None, 1, None, None)
    with pytest.raises(unpickler.RefusedFrame, match="os.system"):
        unpickler.loads(pickle.dumps((None, foreign)))
    ours = PendingActor("delivery.actors.guardian.Guardian", None, 1, None, None)
    assert unpickler.loads(pickle.dumps((None, ours)))[1].actorClassName.endswith("Guardian")


def test_the_messages_the_system_sends_come_through_intact(tmp_path):
    boot = Boot(make_settings(tmp_path), RuntimeFacts(str(tmp_path / "db"), "rt"))
    frame = (None, Envelope("r1", boot))
    assert unpickler.loads(pickle.dumps(frame)) == frame
    assert unpickler.loads(pickle.dumps((None, GetStats()))) == (None, GetStats())
