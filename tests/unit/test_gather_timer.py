"""A gatherer of statistics answers with what came once a child stays silent past the timeout,
and keeps one timer for every gather in progress (Thespian cannot cancel a timer, and on
simpleSystemBase each pending timer is looked at on every message of the system)."""

from __future__ import annotations

import time
from typing import Any

import thespian.system.simpleSystemBase as ssb
from thespian.actors import Actor, ActorSystem

from delivery.actors.base import Gatherer
from delivery.actors.messages import ActorStats, GetStats


class Silent(Actor):
    def receiveMessage(self, message: Any, sender: Any) -> None:
        pass  # never answers GetStats: a child that died or hangs


class Parent(Gatherer):
    KIND = "parent"
    GATHER_TIMEOUT_S = 0.2

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, tuple):
            self.silent = message
            return
        super().receiveMessage(message, sender)

    def children(self) -> list[Any]:
        return list(self.silent)


def test_gathers_with_a_silent_child_end_at_the_timeout_on_one_timer(monkeypatch):
    timers = []
    add = ssb.WakeupManager._add_wakeup
    monkeypatch.setattr(ssb.WakeupManager, "_add_wakeup",
                        lambda self, a, t, p: (timers.append(type(p).__name__), add(self, a, t, p)))
    asys = ActorSystem("simpleSystemBase", transientUnique=True)
    try:
        parent = asys.createActor(Parent)
        asys.tell(parent, (asys.createActor(Silent), asys.createActor(Silent)))
        started = time.monotonic()
        answers = [asys.ask(parent, GetStats(f"g{i}"), 0.01) for i in range(3)]
        assert answers == [None, None, None]  # nobody answers before the timeout
        while len(answers) < 6 and time.monotonic() - started < 3:
            answer = asys.listen(0.1)
            if answer is not None:
                answers.append(answer)
        got = [a for a in answers if isinstance(a, ActorStats)]
        assert sorted(a.gather_id for a in got) == ["g0", "g1", "g2"]
        assert all(len(a.actors) == 1 and a.actors[0].kind == "parent" for a in got)
        assert time.monotonic() - started >= Parent.GATHER_TIMEOUT_S
        assert timers.count("GatherTimeout") <= 2  # one, and one more for a gather left waiting
    finally:
        asys.shutdown()
