"""The front door counts answered requests in plain lists (issue 16: prometheus_client's own
Counter and Histogram cost ~5 % of a read) and exposes exactly what those would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from delivery.http.metrics import BUCKETS, Metrics

ANSWERS = [("/orders/{order_id}", "GET", 200, 0.0004), ("/orders/{order_id}", "GET", 200, 0.001),
           ("/orders/{order_id}", "GET", 404, 0.0031), ("/orders", "POST", 201, 0.26),
           ("unmatched", "GET", 404, 7.5)]


def _lines(registry: CollectorRegistry, prefix: str) -> list[str]:
    """The exposition's lines of the request figures, without prometheus' `_created` times."""
    return sorted(line for line in generate_latest(registry).decode().splitlines()
                  if prefix in line and "_created" not in line)


def test_the_figures_are_those_of_a_prometheus_counter_and_histogram():
    reference = CollectorRegistry()
    requests = Counter("delivery_http_requests", "HTTP requests answered",
                       ["route", "method", "status"], registry=reference)
    latency = Histogram("delivery_http_request_duration_seconds", "Time to answer an HTTP request",
                        ["route", "method"], buckets=BUCKETS, registry=reference)
    metrics = Metrics()
    for route, method, status, took in ANSWERS:
        requests.labels(route, method, str(status)).inc()
        latency.labels(route, method).observe(took)
        metrics.answered.observe(route, method, status, took)
    for prefix in ("delivery_http_requests", "delivery_http_request_duration_seconds"):
        assert _lines(metrics.registry, prefix) == _lines(reference, prefix)
    assert 'delivery_http_requests_total{method="GET",route="/orders/{order_id}",status="200"} 2.0' \
        in _lines(metrics.registry, "delivery_http_requests_total")
