"""What a load test measured: HDR histograms per endpoint, errors, throughput over time."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_US = 120_000_000  # two minutes, in microseconds
PERCENTILES = (50, 90, 99, 99.9)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, 3)


def summary(h: HdrHistogram) -> dict[str, float]:
    """Count and latency percentiles in milliseconds."""
    if h.get_total_count() == 0:
        return {"count": 0}
    out: dict[str, float] = {"count": h.get_total_count()}
    for p in PERCENTILES:
        out[f"p{p:g}"] = h.get_value_at_percentile(p) / 1000
    out["max"] = h.get_max_value() / 1000
    out["mean"] = round(h.get_mean_value() / 1000, 3)
    return out


class Recorder:
    """Collects every request's outcome; latency counts from the request's intended start."""

    def __init__(self) -> None:
        self.endpoints: dict[str, HdrHistogram] = defaultdict(new_histogram)
        self.all = new_histogram()
        self.lifecycle = new_histogram()
        self.errors: Counter[tuple[str, int, str]] = Counter()
        self.refusals: Counter[str] = Counter()  # 503 overloaded: answered as designed, not errors
        self.local: Counter[str] = Counter()  # refused by the client's own throttle, not sent
        self.refusal = new_histogram()
        self.outcomes: Counter[str] = Counter()
        self.seconds: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.killed: Counter[tuple[str, str]] = Counter()  # (endpoint, what) met during a kill

    def _second(self, t: float) -> dict[str, Any]:
        s = int(t)
        if s not in self.seconds:
            self.seconds[s] = {"requests": 0, "errors": 0, "refusals": 0, "completed": 0,
                               "throttled": 0, "hist": new_histogram()}
        return self.seconds[s]

    def request(self, endpoint: str, status: int, code: str, latency_s: float, at_s: float,
                error: bool | None = None) -> None:
        """One answered request (status 0: no answer, a connection error); `error` overrides
        whether it counts as one (by default: status 0 or >= 400)."""
        us = max(1, min(MAX_US, int(latency_s * 1e6)))
        self.endpoints[endpoint].record_value(us)
        self.all.record_value(us)
        second = self._second(at_s)
        second["requests"] += 1
        second["hist"].record_value(us)
        failed = (status == 0 or status >= 400) if error is None else error
        if status == 503 and code == "overloaded":
            self.refusals[endpoint] += 1
            self.refusal.record_value(us)
            second["refusals"] += 1
        elif failed:
            self.errors[(endpoint, status, code)] += 1
            second["errors"] += 1

    def throttled(self, endpoint: str, at_s: float) -> None:
        """A command the client's adaptive throttle refused itself: not sent, no latency."""
        self.local[endpoint] += 1
        self._second(at_s)["throttled"] += 1

    def finished(self, outcome: str, duration_s: float, at_s: float) -> None:
        """A lifecycle ended: completed, cancelled, rejected, abandoned (given up after being
        placed), refused (never placed: the node refused the new order) or failed."""
        self.outcomes[outcome] += 1
        if outcome == "completed":
            self.lifecycle.record_value(max(1, min(MAX_US, int(duration_s * 1e6))))
            self._second(at_s)["completed"] += 1

    def during_kill(self, endpoint: str, what: str) -> None:
        """A request that met the service killed on purpose: expected, not a failure."""
        self.killed[(endpoint, what)] += 1

    def mark(self, at_s: float, label: str) -> None:
        self.events.append({"at_s": round(at_s, 3), "label": label})

    def report(self, config: dict[str, Any], elapsed_s: float) -> dict[str, Any]:
        """Everything measured, as plain data (the JSON report)."""
        timeline = []
        for s in sorted(self.seconds):
            sec = self.seconds[s]
            timeline.append({"second": s, "requests": sec["requests"], "errors": sec["errors"],
                             "refusals": sec["refusals"], "completed": sec["completed"],
                             "throttled": sec["throttled"],
                             "p50_ms": sec["hist"].get_value_at_percentile(50) / 1000,
                             "p99_ms": sec["hist"].get_value_at_percentile(99) / 1000})
        total = self.all.get_total_count()
        errors = sum(self.errors.values())
        return {
            "config": config,
            "elapsed_s": round(elapsed_s, 3),
            "requests": total, "errors": errors,
            "requests_per_s": round(total / elapsed_s, 1) if elapsed_s else 0.0,
            "lifecycles": dict(self.outcomes),
            "completed_per_s": round(self.outcomes["completed"] / elapsed_s, 2) if elapsed_s else 0.0,
            "refusals": sum(self.refusals.values()),
            "refusals_by": dict(self.refusals.most_common()),
            "refusal_ms": summary(self.refusal),
            "throttled": sum(self.local.values()),
            "throttled_by": dict(self.local.most_common()),
            "latency_ms": summary(self.all),
            "lifecycle_ms": summary(self.lifecycle),
            "endpoints": {k: summary(h) for k, h in sorted(self.endpoints.items())},
            "errors_by": [{"endpoint": e, "status": s, "code": c, "count": n}
                          for (e, s, c), n in self.errors.most_common()],
            "timeline": timeline,
            "events": self.events,
            "during_kill": {"requests": sum(self.killed.values()),
                            "by": [{"endpoint": e, "what": w, "count": n}
                                   for (e, w), n in self.killed.most_common()]},
        }


def fmt_ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
