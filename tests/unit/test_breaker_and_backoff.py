"""The circuit breaker's every transition and the restart backoff, on a fake clock."""

import random

import pytest

from delivery.domain.backoff import Backoff
from delivery.domain.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, Permit, Refused
from tests.unit.fakes import FakeClock


@pytest.fixture
def clock():
    return FakeClock()


def breaker(clock, threshold=3, timeout=0.61, reset=10.0, max_reset=60.0):
    return CircuitBreaker(threshold, timeout, reset, max_reset, clock)


def let_through(b) -> Permit:
    permit = b.before_call()
    assert isinstance(permit, Permit)
    return permit


def fail(b, n=1):
    for _ in range(n):
        b.on_failure(let_through(b), "boom")


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
    b.on_success(let_through(b), 0.1)
    fail(b, 2)
    assert b.state == CLOSED


def test_a_call_slower_than_the_call_timeout_counts_as_a_failure(clock):
    b = breaker(clock, threshold=2)
    for _ in range(2):
        b.on_success(let_through(b), 0.62)
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
    trial = let_through(b)
    assert b.state == HALF_OPEN and trial.trial
    assert isinstance(b.before_call(), Refused)  # only one trial at a time
    b.on_success(trial, 0.2)
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
    b.on_success(let_through(b), 0.1)
    assert b.state == CLOSED and b.reset_timeout_s == 10  # back to the base after recovery


def test_a_slow_trial_also_reopens(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(10)
    b.on_success(let_through(b), 5.0)
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


def test_a_trial_that_never_reports_counts_as_failed_after_the_longest_wait(clock):
    b = CircuitBreaker(3, 0.61, 10.0, 60.0, clock, max_trial_wait_s=1.5)
    fail(b, 3)
    clock.advance(10)
    lost = let_through(b)
    clock.advance(1.4)
    assert b.before_call().retry_after_s == pytest.approx(0.1)  # still waiting for its word
    clock.advance(0.2)
    refused = b.before_call()
    assert b.state == OPEN and b.reset_timeout_s == 20 and refused.retry_after_s == pytest.approx(20)
    assert "no word from it within 1.5 s" in b.transitions[-1].reason
    b.on_success(lost, 0.1)  # its word, too late: the trial was already judged
    assert b.state == OPEN
    clock.advance(20)
    b.on_success(let_through(b), 0.1)
    assert b.state == CLOSED


def test_a_released_trial_counts_neither_way_and_the_next_call_is_the_trial(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(10)
    b.release(let_through(b))  # the gateway crashed under it: our fault, not the provider's
    assert b.state == HALF_OPEN and b.reset_timeout_s == 10 and b.failures == 3
    trial = let_through(b)
    assert trial.trial
    b.on_success(trial, 0.1)
    assert b.state == CLOSED


def test_a_call_let_through_before_the_circuit_opened_neither_closes_nor_reopens_it(clock):
    b = breaker(clock)
    early, late_failure = let_through(b), let_through(b)
    fail(b, 3)
    clock.advance(10)
    trial = let_through(b)
    b.on_success(early, 0.1)
    assert b.state == HALF_OPEN  # only the trial decides
    b.on_success(trial, 0.1)
    b.on_failure(late_failure, "boom")
    assert b.state == CLOSED and b.failures == 0


def test_a_report_for_an_ended_trial_is_not_counted_twice(clock):
    b = breaker(clock)
    fail(b, 3)
    clock.advance(10)
    trial = let_through(b)
    b.on_failure(trial, "boom")
    b.on_failure(trial, "boom")
    assert b.reset_timeout_s == 20 and [t.target for t in b.transitions] == [OPEN, HALF_OPEN, OPEN]
