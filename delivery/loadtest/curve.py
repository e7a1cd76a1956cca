"""The overload ramp's report: a terminal table and a self-contained HTML page with plotly charts
of offered load against goodput, refusals and latency."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
from rich.table import Table

from . import plots
from .stats import fmt_ms

# Short headings: the table must fit a terminal of 100 columns.
COLUMNS = ("offered/s", "x cap", "goodput/s", "refused/s", "held back/s", "errors", "timeouts",
           "p99 ms",
           "refusal p99", "refusal max", "max ms", "lifecycle p99", "abandoned", "circuit opened",
           "full after s")


def row(step: dict[str, Any]) -> list[str]:
    """One step as the table's cells."""
    return [f"{step['offered_per_s']:g}", f"{step['load_factor']:g}" if step["load_factor"] else "-",
            f"{step['goodput_per_s']:g}", f"{step['refusals_per_s']:g}",
            f"{step.get('throttled_per_s', 0):g}", str(step["errors"]),
            str(step["bridge_timeouts"]), fmt_ms(step["latency_ms"].get("p99")),
            fmt_ms(step["refusal_ms"].get("p99")), fmt_ms(step["refusal_ms"].get("max")),
            fmt_ms(step["latency_ms"].get("max")), fmt_ms(step["lifecycle_ms"].get("p99")),
            str(step["lifecycles"].get("abandoned", 0)), _maybe(step.get("circuit_openings")),
            _maybe(step.get("full_goodput_after_s"))]


def _maybe(value: Any) -> str:
    return "-" if value is None else str(value)


def table(report: dict[str, Any]) -> Table:
    capacity = report["capacity_per_s"]
    title = "overload ramp" + (f" (capacity {capacity}/s, {report['capacity_source']})"
                               if capacity else "")
    t = Table(title=title)
    for col in COLUMNS:
        t.add_column(col, justify="right")
    for step in report["steps"]:
        t.add_row(*row(step))
    return t


def figures(report: dict[str, Any]) -> list[go.Figure]:
    """The overload curve (offered load against goodput and refusals) and latency per step."""
    steps = report["steps"]
    offered = [s["offered_per_s"] for s in steps]
    return [
        plots.figure("Overload curve: goodput and refusals", "offered new orders/s", "per second", [
            ("offered", offered, offered),
            ("goodput", offered, [s["goodput_per_s"] for s in steps]),
            ("refusals/s", offered, [s["refusals_per_s"] for s in steps])], markers=True),
        plots.figure("Latency per step", "offered new orders/s", "latency (ms)", [
            ("p99", offered, [s["latency_ms"].get("p99", 0) for s in steps]),
            ("refusal max", offered, [s["refusal_ms"].get("max", 0) for s in steps])],
            markers=True)]


def render(report: dict[str, Any]) -> str:
    """The whole report as one HTML page that fetches nothing."""
    steps = report["steps"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row(s)) + "</tr>" for s in steps)
    capacity = (f"capacity {report['capacity_per_s']} completed lifecycles/s "
                f"({html.escape(str(report['capacity_source']))})" if report["capacity_per_s"] else "")
    text = f"""<p>{capacity}. Each step offers new orders in an open model for {steps[0]['duration_s'] if steps else 0:g} s;
goodput counts lifecycles that completed; a refusal is a <code>503 overloaded</code> answer, retried after
the advised wait; "held back" counts commands the clients' adaptive throttle refused itself without
sending them (Google SRE client-side throttling, <code>--client-throttle</code>). Latency runs from each
request's intended send time.</p>
<table><tr>{head}</tr>{body}</table>"""
    return plots.page("Overload ramp", report, text, figures(report))
