"""The overload ramp's report: one point per offered rate, as JSON, a table and one HTML page."""

import json
import re

import pytest
from plotly.offline import get_plotlyjs

from delivery.loadtest import curve
from delivery.loadtest.ramp import full_goodput_after, parse_list, step_figures
from delivery.loadtest.stats import Recorder


def a_step(rate: float, completed: int, refused: int) -> dict:
    rec = Recorder()
    for i in range(completed):
        rec.request("POST /orders", 201, "", 0.01 + i / 1000, at_s=0.5)
        rec.finished("completed", 0.5, at_s=1.0)
    for _ in range(refused):
        rec.request("POST /orders", 503, "overloaded", 0.002, at_s=0.6)
    rec.request("POST /orders/{id}/payment", 503, "service_unavailable", 5.0, at_s=0.7)
    rec.finished("abandoned", 2.0, at_s=1.5)
    step = step_figures(rec, rate, seconds=2.0, elapsed=3.0, unfinished=1)
    step["load_factor"] = rate / 100
    return step


def report() -> dict:
    return {"kind": "overload_ramp", "url": "http://127.0.0.1:1", "config": {"steps": "1,2"},
            "capacity_per_s": 100.0, "capacity_source": "given",
            "steps": [a_step(100, 40, 2), a_step(200, 30, 50)]}


def test_a_step_reports_goodput_refusals_timeouts_and_latencies_per_second_of_offered_load():
    step = a_step(200, 30, 50)
    assert step["goodput_per_s"] == 15 and step["completed"] == 30
    assert step["refusals"] == 50 and step["refusals_per_s"] == 25
    assert step["errors"] == 1 and step["bridge_timeouts"] == 1  # refusals are not errors
    assert step["lifecycles"] == {"completed": 30, "abandoned": 1} and step["unfinished"] == 1
    assert step["refusal_ms"]["max"] == pytest.approx(2.0, rel=0.01)
    assert step["latency_ms"]["max"] == pytest.approx(5000, rel=0.01)
    assert step["lifecycle_ms"]["count"] == 30
    json.dumps(report())  # the JSON report is plain data


def test_the_html_report_is_self_contained_and_plots_every_step():
    page = curve.render(report())
    ours = page.replace(get_plotlyjs(), "")  # plotly.js itself names its home page in strings
    assert len(ours) < len(page) and not re.search(r"""(src|href)=["']?https?:""", ours)
    figs = curve.figures(report())
    assert page.count("<script>") == 1 + len(figs)
    assert [f.layout.xaxis.title.text for f in figs] == ["offered new orders/s"] * 2
    assert [f.layout.yaxis.title.text for f in figs] == ["per second", "latency (ms)"]
    assert [len(t.x) for f in figs for t in f.data] == [2] * 5  # a point per step
    assert "capacity 100.0 completed lifecycles/s (given)" in page
    assert "<td>200</td><td>2</td><td>15</td><td>25</td>" in page


def test_the_terminal_table_has_one_row_per_step():
    table = curve.table(report())
    assert table.row_count == 2 and len(table.columns) == len(curve.COLUMNS)


def test_a_bad_list_of_rates_stops_the_ramp_naming_the_flag():
    assert parse_list("0.5, 1,2", "--steps") == [0.5, 1.0, 2.0]
    with pytest.raises(SystemExit, match="--rates"):
        parse_list("80,fast", "--rates")
    with pytest.raises(SystemExit, match="--steps"):
        parse_list("1,0", "--steps")


def test_full_goodput_is_reached_at_the_first_second_that_completes_most_of_the_offered_load():
    rec = Recorder()
    for second, completed in ((0, 2), (1, 5), (2, 9), (3, 10)):
        for _ in range(completed):
            rec.finished("completed", 0.5, second + 0.5)
    assert full_goodput_after(rec, rate=10.0) == 2   # 9 >= 0.8 x 10
    assert full_goodput_after(rec, rate=20.0) is None
