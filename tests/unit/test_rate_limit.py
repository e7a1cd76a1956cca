"""Token buckets with a fake clock (issue 12, item 7)."""

from __future__ import annotations

import pytest

from delivery.domain.ratelimit import Buckets, Rate, TokenBucket

from .fakes import FakeClock


def test_a_full_bucket_allows_a_burst_then_refuses_with_the_wait_for_one_token():
    clock = FakeClock()
    bucket = TokenBucket(Rate(per_s=2.0, burst=3), clock())
    assert [bucket.take(clock()) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(clock()) == pytest.approx(0.5)


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(Rate(per_s=2.0, burst=3), clock())
    for _ in range(3):
        bucket.take(clock())
    clock.advance(0.5)
    assert bucket.take(clock()) == 0.0
    assert bucket.take(clock()) == pytest.approx(0.5)
    clock.advance(3600)
    assert [bucket.take(clock()) for _ in range(4)][-1] == pytest.approx(0.5)


def test_a_refused_request_takes_nothing_so_waiting_the_advice_is_enough():
    clock = FakeClock()
    bucket = TokenBucket(Rate(per_s=1.0, burst=1), clock())
    bucket.take(clock())
    for _ in range(5):
        assert bucket.take(clock()) == pytest.approx(1.0)
    clock.advance(1.0)
    assert bucket.take(clock()) == 0.0


def test_a_clock_that_steps_back_never_mints_tokens():
    clock = FakeClock()
    bucket = TokenBucket(Rate(per_s=1.0, burst=1), clock())
    bucket.take(clock())
    clock.advance(-10)
    assert bucket.take(clock()) > 0
    clock.advance(10)
    assert bucket.take(clock()) == pytest.approx(1.0)


def test_clients_have_their_own_buckets_and_refusals_are_counted():
    clock = FakeClock()
    buckets = Buckets(Rate(per_s=1.0, burst=1), clock)
    assert buckets.take("a") == 0.0 and buckets.take("b") == 0.0
    assert buckets.take("a") > 0 and buckets.refused == 1


def test_beyond_capacity_the_least_recently_used_client_is_forgotten():
    clock = FakeClock()
    buckets = Buckets(Rate(per_s=1.0, burst=1), clock, capacity=2)
    buckets.take("a"), buckets.take("b"), buckets.take("a"), buckets.take("c")
    assert list(buckets.buckets) == ["a", "c"]
