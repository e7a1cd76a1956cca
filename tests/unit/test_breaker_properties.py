"""Property: whatever happened before (answers, errors, slow calls, gateway crashes, lost calls,
supervisor give-ups, clock jumps), once the provider is healthy again the breaker is closed
within a bounded number of calls, and no call ever ends twice, for the breaker or its requester."""

from collections import Counter

from hypothesis import example, given, settings
from hypothesis import strategies as st

from delivery.domain.breaker import CLOSED, CircuitBreaker, Permit, Refused
from delivery.domain.calls import Call, Calls, give_up_after_s
from tests.unit.fakes import FakeClock

CALL_TIMEOUT_S, RESET_S, MAX_RESET_S = 0.2, 1.0, 8.0
WAIT_S = give_up_after_s(CALL_TIMEOUT_S)




class RecordingBreaker(CircuitBreaker):
    """The real breaker, noting every permit it gives and every report it receives."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(2, CALL_TIMEOUT_S, RESET_S, MAX_RESET_S, clock, max_trial_wait_s=WAIT_S)
        self.given: list[int] = []
        self.reports: Counter[int] = Counter()

    def before_call(self) -> Refused | Permit:
        permit = super().before_call()
        if isinstance(permit, Permit):
            self.given.append(permit.number)
        return permit

    def on_success(self, permit: Permit, elapsed_s: float) -> None:
        self._note(permit)
        super().on_success(permit, elapsed_s)

    def on_failure(self, permit: Permit, reason: str = "provider error") -> None:
        self._note(permit)
        super().on_failure(permit, reason)

    def release(self, permit: Permit) -> None:
        self._note(permit)
        super().release(permit)

    def _note(self, permit: Permit) -> None:
        self.reports[permit.number] += 1
        assert self.reports[permit.number] == 1, f"call {permit.number} reported twice"


class World:
    """The supervisor's bookkeeping over a breaker, with requesters counting their answers."""

    def __init__(self) -> None:
        self.clock = FakeClock(0.0)
        self.breaker = RecordingBreaker(self.clock)
        self.calls = Calls(self.breaker, WAIT_S, self.clock)
        self.started: list[int] = []
        self.told: Counter[int] = Counter()

    def tell(self, calls: list[Call]) -> None:
        for call in calls:
            self.told[call.number] += 1
            assert self.told[call.number] == 1, f"requester of call {call.number} answered twice"

    def request(self) -> Call | None:
        call = self.calls.start("order", "charge")
        if isinstance(call, Refused):
            assert call.retry_after_s >= 0
            return None
        self.started.append(call.number)
        return call

    def answer(self, number: int, elapsed_s: float, error: str | None) -> None:
        call = self.calls.answered(number, elapsed_s, error)
        if call is not None and not call.given_up:
            self.tell([call])

    def step(self, op: tuple) -> None:
        kind = op[0]
        if kind == "request":
            self.request()
        elif kind == "answer" and self.calls.open:
            _, pick, elapsed_s, failed = op
            self.answer(list(self.calls.open)[pick % len(self.calls.open)], elapsed_s,
                        "provider failed" if failed else None)
        elif kind == "again" and self.started:  # a report for a call that may have ended
            self.answer(self.started[op[1] % len(self.started)], op[2], None)
        elif kind == "tick":
            self.tell(self.calls.overdue())
        elif kind == "crash":
            self.tell([c for c in self.calls.abandon_all() if not c.given_up])
        elif kind == "jump":
            self.clock.now += op[1]


request = st.tuples(st.just("request"))
answer = st.tuples(st.just("answer"), st.integers(0, 1000), st.floats(0.0, 3 * CALL_TIMEOUT_S),
                   st.booleans())
again = st.tuples(st.just("again"), st.integers(0, 1000), st.floats(0.0, 3 * CALL_TIMEOUT_S))
jump = st.tuples(st.just("jump"),
                 st.sampled_from([0.01, 0.1, CALL_TIMEOUT_S, WAIT_S, RESET_S, MAX_RESET_S, 30.0]))
# Calls and answers are the common events; crashes are rare, as they are in life.
ops = st.one_of(request, request, answer, answer, jump, jump, again,
                st.tuples(st.just("tick")), st.tuples(st.just("crash")))


OPEN_THEN_TRIAL = [("request",), ("answer", 0, 0.0, True), ("request",), ("answer", 0, 0.0, True),
                   ("jump", RESET_S), ("request",)]


@settings(max_examples=500, deadline=None)
@given(history=st.lists(ops, max_size=60), answer_old_calls=st.booleans())
@example(history=OPEN_THEN_TRIAL, answer_old_calls=False).via("the trial's word is lost for good")
@example(history=[*OPEN_THEN_TRIAL, ("crash",)], answer_old_calls=False).via("crash during trial")
def test_a_healthy_provider_closes_the_circuit_and_no_call_ends_twice(history, answer_old_calls):
    world = World()
    for op in history:
        world.step(op)
    # The provider is healthy from here on: old calls answer quickly, or were lost for good.
    if answer_old_calls:
        for number in list(world.calls.open):
            world.answer(number, 0.01, None)
    rounds = 0
    while world.breaker.state != CLOSED or rounds == 0:
        rounds += 1
        assert rounds <= 2, world.breaker.transitions[-3:]
        world.clock.now += MAX_RESET_S + WAIT_S + 0.01
        call = world.request()
        if call is not None:
            world.answer(call.number, 0.01, None)
    assert world.breaker.state == CLOSED
    # Shutting down ends what is left: then every call has ended exactly once, everywhere.
    world.tell([c for c in world.calls.abandon_all() if not c.given_up])
    assert sorted(world.breaker.reports) == sorted(world.breaker.given)
    assert set(world.breaker.reports.values()) <= {1}
    assert sorted(world.told) == sorted(world.started) and set(world.told.values()) <= {1}
