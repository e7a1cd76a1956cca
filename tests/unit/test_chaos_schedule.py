"""The chaos schedule is random but seeded, and every fault in it is one the harness can inject."""

from __future__ import annotations

import asyncio
import time

import pytest

from delivery.loadtest import chaos
from delivery.loadtest.faults import KILL, parse

STORES = ["sto_a", "sto_b"]


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another():
    assert chaos.schedule(3, 60, STORES) == chaos.schedule(3, 60, STORES)
    assert chaos.schedule(3, 60, STORES) != chaos.schedule(4, 60, STORES)


@pytest.mark.parametrize("duration", [20, 60, 600])
def test_a_schedule_kills_once_a_minute_and_leaves_the_end_quiet(duration):
    actions = chaos.actions(chaos.schedule(1, duration, STORES))
    kills = [a for a in actions if a.body == KILL]
    assert len(kills) == max(1, round(duration / 60))
    assert all(0 < a.at_s <= duration * (1 - chaos.QUIET_TAIL) for a in actions)


def test_a_long_schedule_holds_every_kind_of_fault():
    kinds = {a.kind for a in chaos.actions(chaos.schedule(1, 600, STORES))}
    assert kinds == {"payment:crash", "payment:slow", "payment:fail", "store:down",
                     "store:crash", "service:kill", "actors:kill", None}  # None: a window's end


def test_a_run_too_short_for_chaos_gets_none():
    assert chaos.schedule(1, 2, STORES) == []


def test_the_tally_counts_injected_and_refused_faults_by_kind_but_not_their_ends():
    tally = chaos.Tally()
    for action in parse("payment:slow:800@1s-2s") + parse("store:sto_a:crash@3s"):
        tally.record(action, ok=True)
    tally.record(parse("service:kill@4s")[0], ok=False)
    assert tally.as_dict() == {"injected": {"payment:slow": 1, "store:crash": 1},
                               "refused": {"service:kill": 1}}


async def test_an_outage_covers_requests_in_flight_when_it_began_until_it_ends():
    outage = chaos.Outage()
    before = time.perf_counter()
    assert not outage.covers(before)
    outage.begin()
    assert outage.covers(before) and outage.covers(time.perf_counter())
    waiter = asyncio.create_task(outage.over())
    await asyncio.sleep(0)
    assert not waiter.done()
    outage.end()
    await asyncio.wait_for(waiter, 1)
    assert outage.covers(before) and not outage.covers(time.perf_counter())
    assert len(outage.downtimes) == 1
