"""The rules of unpaid orders, without actors: the cap, the system's expiry and its notice."""

from __future__ import annotations

from delivery.domain import commands as c
from delivery.domain import events as e
from delivery.domain import order
from delivery.domain.notices import notices_for
from delivery.domain.refusal import Refusal
from delivery.domain.unpaid import NOT_PAID_IN_TIME, check_cap

from .test_order_state_machine import T, pay, placed

LATER = "2026-11-23T10:15:00.000000Z"
EARLIER = "2026-11-23T09:45:00.000000Z"


def test_the_cap_allows_up_to_the_limit_and_refuses_beyond():
    assert check_cap(4, 5) is None
    refusal = check_cap(5, 5)
    assert isinstance(refusal, Refusal) and refusal.code == "too_many_unpaid_orders"


def test_an_old_unpaid_order_expires_with_the_system_reason():
    (event,) = order.decide(placed(), c.ExpireOrder("o1", LATER), LATER)
    assert isinstance(event, e.OrderCancelled) and event.reason == NOT_PAID_IN_TIME
    assert order.evolve(placed(), event).status == order.CANCELLED


def test_a_paid_or_recent_order_does_not_expire():
    assert order.decide(pay(placed()), c.ExpireOrder("o1", LATER), LATER) == ()
    assert order.decide(placed(), c.ExpireOrder("o1", EARLIER), LATER) == ()


def test_the_customer_is_told_the_order_was_not_paid_in_time_and_the_store_nothing():
    state = placed()
    (event,) = order.decide(state, c.ExpireOrder("o1", LATER), LATER)
    (notice,) = notices_for(event, order.evolve(state, event))
    assert notice.recipient_kind == "customer" and notice.kind == "order_expired"
    assert "not paid in time" in notice.text
    (own,) = notices_for(e.OrderCancelled("o1", "o1:2", 2, T, "changed my mind"), state)
    assert own.kind == "order_cancelled"
