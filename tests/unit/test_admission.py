"""Admission control without actors: the adaptive limit on a fake clock, refusal by criticality,
the classes of requests, the advice to refused clients and the configuration's errors."""

import random

import pytest

from delivery import config
from delivery.domain.admission import (
    NEW_ORDER,
    ORDER_COMMAND,
    REGISTRATION,
    AdaptiveLimit,
    LimitSettings,
)
from delivery.http.admission import AdmissionControl, criticality
from tests.unit.fakes import FakeClock

SHARES = {NEW_ORDER: 0.8, REGISTRATION: 0.5}




class FakeQueue:
    """What the pump thread would have measured: `count` commands that waited `wait_s` each."""

    def __init__(self) -> None:
        self.count, self.wait_s = 0, 0.0

    def __call__(self) -> tuple[int, float]:
        return self.count, self.count * self.wait_s


def limiter(initial=40, minimum=4, maximum=400, target_ms=50.0, interval_s=0.1):
    clock, queue = FakeClock(), FakeQueue()
    settings = LimitSettings(initial, minimum, maximum, target_ms / 1000, interval_s, SHARES)
    return AdaptiveLimit(settings, clock, queue), clock, queue


def fill(lim: AdaptiveLimit, n: int, kind: str = ORDER_COMMAND) -> int:
    return sum(lim.admit(kind) for _ in range(n))


def next_interval(lim, clock, queue, count: int, wait_ms: float) -> None:
    clock.now += 0.1
    queue.count, queue.wait_s = count, wait_ms / 1000
    lim.admit(ORDER_COMMAND)  # the limit is reconsidered when a command arrives
    lim.release()


def test_the_limit_grows_while_queueing_stays_below_the_target_and_the_limit_is_in_use():
    lim, clock, queue = limiter(initial=40)
    fill(lim, 30)
    next_interval(lim, clock, queue, 100, wait_ms=5)
    assert lim.limit == pytest.approx(40 + 40 ** 0.5)
    for _ in range(50):
        fill(lim, int(lim.limit))  # demand keeps up with the limit
        next_interval(lim, clock, queue, 100, wait_ms=5)
    assert lim.limit == 400  # capped at max_limit


def test_a_limit_nobody_comes_near_does_not_grow():
    lim, clock, queue = limiter(initial=40)
    fill(lim, 5)
    next_interval(lim, clock, queue, 100, wait_ms=1)
    assert lim.limit == 40


def test_the_limit_shrinks_in_proportion_to_queueing_above_the_target_down_to_the_minimum():
    lim, clock, queue = limiter(initial=40, target_ms=50)
    next_interval(lim, clock, queue, 100, wait_ms=60)
    assert lim.limit == pytest.approx(40 * 50 / 60)
    next_interval(lim, clock, queue, 100, wait_ms=1000)
    assert lim.limit == pytest.approx(40 * 50 / 60 * 0.5)  # never more than halved at once
    for _ in range(20):
        next_interval(lim, clock, queue, 100, wait_ms=1000)
    assert lim.limit == 4
    assert lim.snapshot()["queue_delay_ms"] == 1000


def test_commands_still_draining_from_a_higher_limit_do_not_shrink_it_again():
    lim, clock, queue = limiter(initial=40)
    fill(lim, 40)
    next_interval(lim, clock, queue, 100, wait_ms=100)  # 40 -> 20, 40 still in flight
    assert lim.limit == 20
    next_interval(lim, clock, queue, 100, wait_ms=100)
    assert lim.limit == 20


def test_an_interval_without_a_measured_command_changes_nothing():
    lim, clock, queue = limiter(initial=40)
    fill(lim, 39)
    next_interval(lim, clock, queue, 0, wait_ms=0)
    assert lim.limit == 40


def test_registrations_are_refused_first_then_new_orders_then_commands_on_placed_orders():
    lim, _, _ = limiter(initial=10, minimum=10, maximum=10)
    assert fill(lim, 10, REGISTRATION) == 5    # 50 % of the limit
    assert fill(lim, 10, NEW_ORDER) == 3       # up to 80 %
    assert fill(lim, 10, ORDER_COMMAND) == 2   # up to 100 %
    assert lim.in_flight == 10
    assert lim.refused == {REGISTRATION: 5, NEW_ORDER: 7, ORDER_COMMAND: 8}


def test_after_a_refused_order_command_new_orders_yield_their_slots_for_an_interval():
    lim, clock, _ = limiter(initial=10, minimum=10, maximum=10)
    fill(lim, 10)
    assert not lim.admit(ORDER_COMMAND)
    for _ in range(5):
        lim.release()
    assert not lim.admit(NEW_ORDER) and not lim.admit(REGISTRATION)  # room, but yielding
    assert lim.admit(ORDER_COMMAND)
    clock.now += 0.2
    assert lim.admit(NEW_ORDER)


def test_an_idle_node_admits_every_class_however_small_its_limit():
    lim, _, _ = limiter(initial=1, minimum=1, maximum=1)
    assert lim.admit(REGISTRATION)
    lim.release()
    assert lim.admit(NEW_ORDER)


@pytest.mark.parametrize("method,path,expected", [
    ("GET", "/orders/{order_id}", None),
    ("GET", "/orders/{order_id}/events", None),
    ("POST", "/admin/api/faults", None),
    ("GET", "/health", None),
    ("POST", "/customers", REGISTRATION),
    ("POST", "/stores", REGISTRATION),
    ("POST", "/riders", REGISTRATION),
    ("POST", "/orders", NEW_ORDER),
    ("POST", "/orders/{order_id}/payment", ORDER_COMMAND),
    ("POST", "/stores/{store_id}/orders/{order_id}/accept", ORDER_COMMAND),
    ("POST", "/deliveries/{order_id}/pick", ORDER_COMMAND),
    ("PUT", "/riders/me/location", ORDER_COMMAND),
])
def test_requests_are_classed_by_criticality_and_reads_are_never_counted(method, path, expected):
    assert criticality(method, path) == expected


def test_the_advised_wait_is_jittered_and_longer_for_less_critical_commands():
    control = AdmissionControl(config.load(env={}).admission, rng=random.Random(7))
    for kind, scale in ((ORDER_COMMAND, 1), (NEW_ORDER, 2), (REGISTRATION, 4)):
        waits = {control.advice_s(kind) for _ in range(50)}
        assert len(waits) > 40  # spread out, not one instant for every refused client
        assert all(0.25 * scale <= w <= 0.75 * scale for w in waits)


@pytest.mark.parametrize("env,key", [
    ({"DELIVERY_ADMISSION_MIN_LIMIT": "0"}, "admission.min_limit"),
    ({"DELIVERY_ADMISSION_INITIAL_LIMIT": "5000"}, "admission.initial_limit"),
    ({"DELIVERY_ADMISSION_QUEUE_TARGET_MS": "0"}, "admission.queue_target_ms"),
    ({"DELIVERY_ADMISSION_INTERVAL_MS": "-1"}, "admission.interval_ms"),
    ({"DELIVERY_ADMISSION_NEW_ORDER_SHARE": "1.5"}, "admission.new_order_share"),
    ({"DELIVERY_ADMISSION_REGISTRATION_SHARE": "0.9"}, "admission.registration_share"),
    ({"DELIVERY_ADMISSION_ENABLED": "maybe"}, "admission.enabled"),
])
def test_a_bad_admission_value_is_an_error_naming_the_key(env, key):
    with pytest.raises(config.ConfigError, match=key.replace(".", r"\.")):
        config.load(env=env)
