"""Fault schedules for a load test: `payment:slow:2000@10s-20s` style specifications."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KILL = {"target": "service", "kind": "kill"}  # not an admin call: the harness kills its child
KILL_ACTORS = {"target": "actors", "kind": "kill"}  # the service's actor process alone
KILLS = (KILL, KILL_ACTORS)
SPEC = re.compile(r"^(?P<what>[^@]+)@(?P<start>\d+(?:\.\d+)?)s(?:-(?P<end>\d+(?:\.\d+)?)s)?$")


@dataclass(frozen=True)
class FaultAction:
    """One call of the admin fault API at a moment of the run."""

    at_s: float
    """Seconds from the start of the run."""
    body: dict[str, Any]
    """What to POST to /admin/api/faults."""
    label: str
    """For the report's timeline."""

    @property
    def kind(self) -> str | None:
        """"target:kind" of an injected fault; None for the end of one (clear, up)."""
        kind = self.body["kind"]
        return None if kind in ("clear", "up") else f"{self.body['target']}:{kind}"


def parse(spec: str) -> list[FaultAction]:
    """Actions for one specification; a window (`@a-b`) injects at a and clears at b.

    payment:crash@10s | payment:slow:MS@a-b | payment:fail:RATE@a-b | store:ID:down@a-b |
    store:ID:crash@a | service:kill@a (SIGKILL and restart on the same data; needs --spawn) |
    actors:kill@a (SIGKILL the actor process alone; its front door starts it again; needs --spawn)
    """
    m = SPEC.match(spec.strip())
    if not m:
        raise ValueError(f"fault {spec!r}: expected WHAT@STARTs or WHAT@STARTs-ENDs")
    start, end = float(m["start"]), m["end"] and float(m["end"])
    if end is not None and end <= start:
        raise ValueError(f"fault {spec!r}: the window must end after it starts")
    parts = m["what"].split(":")
    if parts == ["payment", "crash"]:
        return [FaultAction(start, {"target": "payment", "kind": "crash"}, spec)]
    if parts == ["service", "kill"]:
        return [FaultAction(start, KILL, spec)]
    if parts == ["actors", "kill"]:
        return [FaultAction(start, KILL_ACTORS, spec)]
    if len(parts) == 3 and parts[0] == "store" and parts[2] == "crash":
        return [FaultAction(start, {"target": "store", "store_id": parts[1], "kind": "crash"}, spec)]
    if len(parts) == 3 and parts[:2] == ["payment", "slow"]:
        inject = {"target": "payment", "kind": "slow", "delay_ms": int(parts[2])}
        clear = {"target": "payment", "kind": "clear"}
    elif len(parts) == 3 and parts[:2] == ["payment", "fail"]:
        rate = float(parts[2])
        if not 0 <= rate <= 1:
            raise ValueError(f"fault {spec!r}: the rate must be 0..1")
        inject = {"target": "payment", "kind": "fail", "rate": rate}
        clear = {"target": "payment", "kind": "clear"}
    elif len(parts) == 3 and parts[0] == "store" and parts[2] == "down":
        inject = {"target": "store", "store_id": parts[1], "kind": "down"}
        clear = {"target": "store", "store_id": parts[1], "kind": "up"}
    else:
        raise ValueError(f"fault {spec!r}: unknown fault")
    actions = [FaultAction(start, inject, spec)]
    if end is not None:
        actions.append(FaultAction(end, clear, f"end of {spec}"))
    return actions
