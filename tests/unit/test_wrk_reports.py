"""httpbench reads wrk's report (delivery/tools/wrk.py) and tells wrk what to send."""

from __future__ import annotations

import pytest

from delivery.tools.wrk import Target, _lua, parse_wrk

# `wrk -t1 -c4 -d1s --latency` against a hello-world and against a 404, as wrk 4.1 prints them
REPORT = """Running 1s test @ http://127.0.0.1:18601/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   352.61us  291.70us   4.87ms   97.52%
    Req/Sec    12.10k   595.49    12.84k    60.00%
  Latency Distribution
     50%  307.00us
     75%  359.00us
     90%  433.00us
     99%    1.49ms
  12054 requests in 1.00s, 2.06MB read
Requests/sec:  12049.25
Transfer/sec:      2.06MB
"""
REFUSED = REPORT.replace("Requests/sec:  12049.25",
                         "  Socket errors: connect 0, read 2, write 0, timeout 3\n"
                         "  Non-2xx or 3xx responses: 4585\nRequests/sec:   4583.88")


def test_requests_per_second_and_the_percentiles_in_milliseconds():
    result = parse_wrk(REPORT)
    assert result.rps == 12049.25 and result.errors == 0
    assert result.p50_ms == pytest.approx(0.307) and result.p99_ms == pytest.approx(1.49)


def test_answers_other_than_2xx_and_socket_errors_are_errors():
    assert parse_wrk(REFUSED).errors == 4585 + 2 + 3
    assert parse_wrk(REPORT.replace("1.49ms", "2.01s")).p99_ms == pytest.approx(2010.0)


def test_the_script_sends_the_token_and_a_post_body_quoted_for_lua():
    script = _lua(Target("POST /orders", "http://x/orders", 'tok"en', '{"a":"b\\\\c"}'))
    assert 'wrk.headers["Authorization"] = "Bearer tok\\"en"' in script
    assert 'wrk.method = "POST"' in script
    assert 'wrk.body = "{\\"a\\":\\"b\\\\\\\\c\\"}"' in script
    assert _lua(Target("hello", "http://x/")) == "\n"
