"""Token buckets: how many requests a client may send now, and how long until the next one.

Pure: the clock is passed in. A bucket holds up to `burst` tokens, refilled at `rate` per second;
a request takes one. A full bucket is the same as a new one, so forgetting the least recently used
buckets (`Buckets`) loses nothing but the debt of a client silent for burst/rate seconds or more.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """A bucket's shape."""

    per_s: float
    """Tokens added per second (the sustained rate)."""
    burst: float
    """Tokens the bucket holds at most (requests allowed at once)."""


class TokenBucket:
    """One client's allowance."""

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate, self.tokens, self.at = rate, rate.burst, now

    def take(self, now: float) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there will be."""
        elapsed = max(0.0, now - self.at)  # a clock stepping back must not mint tokens
        self.tokens = min(self.rate.burst, self.tokens + elapsed * self.rate.per_s)
        self.at = max(self.at, now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate.per_s


class Buckets:
    """The buckets of many clients of one rate, at most `capacity` of them in memory."""

    def __init__(self, rate: Rate, clock: Callable[[], float], capacity: int = 100_000) -> None:
        self.rate, self.clock, self.capacity = rate, clock, capacity
        self.buckets: OrderedDict[Hashable, TokenBucket] = OrderedDict()
        self.refused = 0

    def take(self, client: Hashable) -> float:
        """0.0 if `client` may send now, else the seconds it should wait."""
        now = self.clock()
        bucket = self.buckets.pop(client, None) or TokenBucket(self.rate, now)
        self.buckets[client] = bucket
        if len(self.buckets) > self.capacity:
            self.buckets.popitem(last=False)
        wait = bucket.take(now)
        self.refused += wait > 0
        return wait
