"""The load-test harness's own logic: arrival schedule, histograms and report, fault specs."""

import json
import re

import pytest
from plotly.offline import get_plotlyjs

from delivery.loadtest import faults, plots
from delivery.loadtest.report import figures, offered_rate, render
from delivery.loadtest.schedule import arrivals
from delivery.loadtest.stats import Recorder


def test_a_constant_rate_spaces_arrivals_evenly_and_stops_at_the_duration():
    times = list(arrivals(4.0, 2.0))
    assert times == pytest.approx([0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75])


def test_a_ramp_grows_linearly_then_holds_the_rate():
    times = list(arrivals(10.0, 10.0, ramp_from=0.0, ramp_s=4.0))
    during = [t for t in times if t < 4.0]
    assert len(during) == pytest.approx(20, abs=1)  # the integral of 0 -> 10 over 4 s
    gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
    assert gaps == sorted(gaps, reverse=True)  # ever closer together
    after = [t for t in times if t >= 4.0]
    assert len(after) == pytest.approx(60, abs=1)
    assert all(b - a == pytest.approx(0.1) for a, b in zip(after, after[1:], strict=False))


def test_no_rate_or_no_time_means_no_arrival():
    assert list(arrivals(0, 10)) == [] and list(arrivals(5, 0)) == []


def test_the_recorder_keeps_percentiles_errors_and_a_timeline():
    rec = Recorder()
    for i in range(1, 101):
        rec.request("GET /x", 200, "", i / 1000, at_s=0.5)  # 1..100 ms
    rec.request("POST /y", 503, "payment_unavailable", 0.002, at_s=1.2)
    rec.request("POST /y", 0, "connection_error", 0.5, at_s=1.3)
    rec.finished("completed", 0.2, at_s=1.4)
    rec.finished("abandoned", 0.3, at_s=1.5)
    rec.mark(1.0, "payment:fail:1@1s-2s")
    r = rec.report({"rate": 1}, elapsed_s=2.0)
    x = r["endpoints"]["GET /x"]
    assert x["count"] == 100 and x["p50"] == pytest.approx(50, rel=0.01)
    assert x["p99"] == pytest.approx(99, rel=0.01) and x["max"] == pytest.approx(100, rel=0.01)
    assert r["errors"] == 2 and r["requests"] == 102
    assert {(e["status"], e["code"]) for e in r["errors_by"]} == {(503, "payment_unavailable"),
                                                                   (0, "connection_error")}
    assert r["lifecycles"] == {"completed": 1, "abandoned": 1} and r["completed_per_s"] == 0.5
    assert [t["requests"] for t in r["timeline"]] == [100, 2]
    assert r["timeline"][1]["completed"] == 1 and r["events"][0]["label"].startswith("payment")
    json.dumps(r)  # the JSON report is plain data


def test_the_html_report_is_self_contained_and_shows_the_figures():
    rec = Recorder()
    rec.request("GET /x", 200, "", 0.003, at_s=0.1)
    rec.finished("completed", 0.2, at_s=0.2)
    rec.mark(0.1, "payment:slow:2000@0s-1s")
    report = plots.stamped(rec.report({"rate": 5, "html": "r.html"}, 1.0),
                           ["--spawn", "--rate", "5", "--html", "/tmp/somewhere/r.html"])
    page = render(report)
    assert page.startswith("<!doctype html>") and "GET /x" in page
    ours = page.replace(get_plotlyjs(), "")  # plotly.js itself names its home page in strings
    assert len(ours) < len(page) and not re.search(r"""(src|href)=["']?https?:""", ours)
    assert page.count("<script>") == 1 + len(figures(report))  # plotly.js inlined once
    assert "payment:slow:2000@0s-1s" in page
    assert "run.py loadtest --spawn --rate 5 --html r.html" in page and "/tmp/" not in page
    assert "<td>rate</td><td>5</td>" in page  # the settings as a table


def test_the_report_charts_have_labelled_axes_and_the_ramp_its_overload_curve():
    rec = Recorder()
    for second in range(10):
        rec.request("POST /orders", 201, "", 0.004, at_s=second + 0.5)
        rec.finished("completed", 0.2, at_s=second + 0.6)
    steady = figures(rec.report({"rate": 5}, 10.0))
    assert [f.layout.title.text for f in steady] == ["Latency per second", "Throughput per second"]
    for fig in steady:
        assert fig.layout.xaxis.title.text == "time since start (s)"
        assert fig.layout.yaxis.title.text in ("latency (ms)", "per second")
        assert fig.layout.xaxis.tickformat and fig.layout.yaxis.nticks
    ramped = figures(rec.report({"rate": 20, "ramp_from": 2, "ramp": 9}, 10.0))
    curve_fig = ramped[-1]
    assert curve_fig.layout.xaxis.title.text == "offered new orders/s"
    assert curve_fig.layout.yaxis.title.text == "completed orders/s (goodput)"
    assert list(curve_fig.data[0].x) == [2 + 2 * s for s in range(10)]
    assert offered_rate({"rate": 20, "ramp_from": 2, "ramp": 9}, 20) == 20
    assert offered_rate({"concurrency": 4, "rate": 10}, 1) is None


@pytest.mark.parametrize("spec,bodies", [
    ("payment:crash@10s", [(10, {"target": "payment", "kind": "crash"})]),
    ("payment:slow:2000@10s-20s", [(10, {"target": "payment", "kind": "slow", "delay_ms": 2000}),
                                   (20, {"target": "payment", "kind": "clear"})]),
    ("payment:fail:0.5@1.5s-3s", [(1.5, {"target": "payment", "kind": "fail", "rate": 0.5}),
                                  (3, {"target": "payment", "kind": "clear"})]),
    ("store:sto_1:down@5s-8s", [(5, {"target": "store", "store_id": "sto_1", "kind": "down"}),
                                (8, {"target": "store", "store_id": "sto_1", "kind": "up"})]),
    ("actors:kill@4s", [(4, {"target": "actors", "kind": "kill"})]),  # the harness kills it
])
def test_fault_specifications_become_timed_admin_calls(spec, bodies):
    assert [(a.at_s, a.body) for a in faults.parse(spec)] == bodies


@pytest.mark.parametrize("spec", ["payment:slow@10s", "payment:fail:2@1s-2s", "moon:crash@1s",
                                  "payment:crash", "payment:slow:5@20s-10s"])
def test_bad_fault_specifications_are_refused(spec):
    with pytest.raises(ValueError):
        faults.parse(spec)


def test_cpu_lists_read_as_taskset_reads_them_and_name_what_is_wrong():
    import argparse
    import os

    from delivery.loadtest.runner import cpu_list

    first = min(os.sched_getaffinity(0))
    assert cpu_list(str(first)) == (first,)
    assert cpu_list(f"{first}-{first}") == (first,)
    with pytest.raises(argparse.ArgumentTypeError, match="not a CPU list"):
        cpu_list("one")
    with pytest.raises(argparse.ArgumentTypeError, match="not all among"):
        cpu_list("4096")


def test_a_pinned_service_is_started_under_taskset(tmp_path):
    from delivery.loadtest.service import SpawnedService

    pinned = SpawnedService(tmp_path, cpus={1, 0})
    assert pinned.cmd[:3] == ["taskset", "-c", "0,1"] and "serve" in pinned.cmd
    assert SpawnedService(tmp_path).cmd[1:3] == ["run.py", "serve"]
