"""The payment supervisor's call bookkeeping on a fake clock: slowness is what the gateway
measured, our own queueing never opens the circuit, and a crashed gateway can't jam a trial."""

import pytest

from delivery.domain.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, Refused
from delivery.domain.calls import MAX_GIVEN_UP, Call, Calls, give_up_after_s
from tests.unit.fakes import FakeClock

CALL_TIMEOUT_S = 0.61




@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def calls(clock):
    wait = give_up_after_s(CALL_TIMEOUT_S)
    breaker = CircuitBreaker(3, CALL_TIMEOUT_S, 10.0, 60.0, clock, max_trial_wait_s=wait)
    return Calls(breaker, wait, clock)


def start(calls, requester="order-1") -> Call:
    call = calls.start(requester, "charge")
    assert isinstance(call, Call), call
    return call


def open_the_circuit(calls):
    for _ in range(3):
        calls.answered(start(calls).number, 0.05, "provider failed")
    assert calls.breaker.state == OPEN


def test_a_call_long_in_our_own_queue_but_quick_at_the_provider_is_a_success(calls, clock):
    for _ in range(10):  # far beyond the failure threshold
        call = start(calls)
        clock.advance(5.0)  # the actor thread was busy: the answer sat in a queue
        assert calls.overdue() == [call] and call.given_up
        assert calls.answered(call.number, 0.05) is call
    assert calls.breaker.state == CLOSED and calls.breaker.failures == 0


def test_a_call_the_gateway_measured_slower_than_the_call_timeout_is_a_failure(calls):
    for _ in range(3):
        calls.answered(start(calls).number, CALL_TIMEOUT_S + 0.1)
    assert calls.breaker.state == OPEN
    assert "over the 610 ms call timeout" in calls.breaker.transitions[-1].reason


def test_the_requester_is_answered_once_the_safety_net_deadline_passes(calls, clock):
    call = start(calls)
    clock.advance(give_up_after_s(CALL_TIMEOUT_S) - 0.01)
    assert calls.overdue() == [] and calls.waiting() == 1
    clock.advance(0.02)
    assert calls.overdue() == [call]
    assert calls.overdue() == [] and calls.waiting() == 0  # answered once


def test_a_second_report_of_the_same_call_is_ignored(calls):
    call = start(calls)
    assert calls.answered(call.number, 0.05, "provider failed") is call
    assert calls.answered(call.number, 0.05, "provider failed") is None
    assert calls.breaker.failures == 1


def test_a_gateway_crash_during_the_trial_frees_the_trial_slot(calls, clock):
    open_the_circuit(calls)
    clock.advance(10)
    trial = start(calls)
    assert trial.permit.trial and isinstance(calls.start("order-2", "charge"), Refused)
    assert calls.abandon_all() == [trial]  # the gateway died with the trial
    assert calls.breaker.state == HALF_OPEN and calls.breaker.reset_timeout_s == 10
    calls.answered(start(calls).number, 0.05)
    assert calls.breaker.state == CLOSED


def test_a_crash_is_not_counted_against_the_provider(calls):
    for _ in range(5):
        start(calls)
        calls.abandon_all()
    assert calls.breaker.state == CLOSED and calls.breaker.failures == 0


def test_a_gateway_that_hangs_for_good_does_not_keep_every_given_up_call(calls, clock):
    for _ in range(MAX_GIVEN_UP + 5):
        start(calls)
    clock.advance(60)
    assert len(calls.overdue()) == MAX_GIVEN_UP + 5
    assert len(calls.open) == MAX_GIVEN_UP
