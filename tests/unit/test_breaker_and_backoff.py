"""The circuit breaker's every transition and the restart backoff, on a fake clock."""

import random

import pytest

from delivery.domain.backoff import Backoff
from delivery.domain.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, Refused


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


def breaker(clock, threshold=3, timeout=0.61, reset=10.0, max_reset=60.0):
    return CircuitBreaker(threshold, timeout, reset, max_reset, clock)


def fail(b, n=1):
    for _ in range(n):
        assert b.before_call() is None
        b.on_failure("boom")


def test_it_opens_after_the_threshold_of_consecutive_failures(clock):
    b = breaker(clock)
    fail(b, 2)
    assert b.state == CLOSED and b.failures == 2
    fail(b)
    assert b.state == OPEN
    assert [(t.source, t.target) for t in b.transitions] == [(CLOSED, OPEN)]
    assert b.transitions[0].at == clock.now and "3 consecutive failures" in b.transitions[0].reason


def test_a_success_resets_the_count_of_consecutive_failures(clock):
    b = breaker(clock)
    fail(b, 2)
    assert b.before_call() is None
    b.on_success(0.1)
    fail(b, 2)
    assert b.state == CLOSED


def test_a_call_slower_than_the_call_timeout_counts_as_a_failure(clock):
    b = breaker(clock, threshold=2)
    for _ in range(2):
        assert b.before_call() is None
        b.on_success(0.62)
    assert b.state == OPEN and "over the 610 ms call timeout" in b.transitions[-1].reason


def test_while_open_every_call_is_refused_at_once_with_the_remaining_time(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(4)
    refused = b.before_call()
    assert isinstance(refused, Refused) and refused.retry_after_s == pytest.approx(6.0)
    clock.advance(5.9)
    assert b.before_call().retry_after_s == pytest.approx(0.1)


def test_after_the_reset_timeout_one_trial_goes_through_and_success_closes(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(10)
    assert b.before_call() is None
    assert b.state == HALF_OPEN
    assert isinstance(b.before_call(), Refused)  # only one trial at a time
    b.on_success(0.2)
    assert b.state == CLOSED and b.failures == 0
    assert [t.target for t in b.transitions] == [OPEN, HALF_OPEN, CLOSED]


def test_a_failed_trial_reopens_with_the_reset_timeout_doubled_up_to_the_cap(clock):
    b = breaker(clock, reset=10, max_reset=35)
    fail(b, 3)
    expected = [20, 35, 35]
    for reset in expected:
        clock.advance(b.reset_timeout_s)
        fail(b)  # the trial
        assert b.state == OPEN and b.reset_timeout_s == reset
        assert b.before_call().retry_after_s == pytest.approx(reset)
    clock.advance(35)
    assert b.before_call() is None
    b.on_success(0.1)
    assert b.state == CLOSED and b.reset_timeout_s == 10  # back to the base after recovery


def test_a_slow_trial_also_reopens(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(10)
    assert b.before_call() is None
    b.on_success(5.0)
    assert b.state == OPEN and b.reset_timeout_s == 20


def test_backoff_doubles_from_min_to_max_with_jitter_within_bounds(clock):
    rng = random.Random(7)
    backoff = Backoff(0.2, 5.0, 0.1, 30.0, clock, rng)
    bases = [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    for base in bases:
        delay = backoff.next_delay()
        assert base <= delay <= base * 1.1


def test_backoff_without_jitter_is_exact_and_resets_after_a_stable_period(clock):
    backoff = Backoff(0.2, 5.0, 0.0, 30.0, clock)
    assert [backoff.next_delay() for _ in range(3)] == [0.2, 0.4, 0.8]
    backoff.started()
    clock.advance(10)
    assert backoff.next_delay() == 1.6  # crashed again soon: keep growing
    backoff.started()
    clock.advance(30)
    assert backoff.next_delay() == 0.2  # ran for the stable period: start over
