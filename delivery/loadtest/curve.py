"""The overload ramp's report: a terminal table and a self-contained HTML page with SVG plots of
offered load against goodput, refusals and latency."""

from __future__ import annotations

import html
import json
from typing import Any

from rich.table import Table

from .stats import fmt_ms

W, H, PAD = 760, 260, 48
# Short headings: the table must fit a terminal of 100 columns.
COLUMNS = ("offered/s", "x cap", "goodput/s", "refused/s", "errors", "timeouts", "p99 ms",
           "refusal p99", "refusal max", "max ms", "lifecycle p99", "abandoned", "circuit opened",
           "full after s")


def row(step: dict[str, Any]) -> list[str]:
    """One step as the table's cells."""
    return [f"{step['offered_per_s']:g}", f"{step['load_factor']:g}" if step["load_factor"] else "-",
            f"{step['goodput_per_s']:g}", f"{step['refusals_per_s']:g}", str(step["errors"]),
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


def _plot(title: str, unit: str, series: list[tuple[str, str, list[tuple[float, float]]]]) -> str:
    """Lines over offered load (x, per second), with a dot at every step."""
    points = [p for _, _, pts in series for p in pts]
    xmax = max((x for x, _ in points), default=1) * 1.05 or 1
    ymax = max((y for _, y in points), default=1) * 1.1 or 1
    sx, sy = (W - 2 * PAD) / xmax, (H - 2 * PAD) / ymax
    out = [f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{html.escape(title)}">',
           f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" fill="#fafafa" stroke="#ccc"/>']
    for i in range(5):
        y, py = ymax * i / 4, H - PAD - (H - 2 * PAD) * i / 4
        x, px = xmax * i / 4, PAD + (W - 2 * PAD) * i / 4
        out.append(f'<text x="{PAD - 4}" y="{py + 4:.0f}" font-size="10" text-anchor="end">{y:.0f}</text>'
                   f'<text x="{px:.0f}" y="{H - PAD + 14}" font-size="10" text-anchor="middle">{x:.0f}</text>')
    for _, colour, pts in series:
        coords = [(PAD + x * sx, H - PAD - y * sy) for x, y in pts]
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords)
    legend = " ".join(f'<tspan fill="{c}">■ {html.escape(n)}</tspan>' for n, c, _ in series)
    out.append(f'<text x="{PAD}" y="{PAD - 12}" font-size="12">{html.escape(title)} ({unit}) {legend}</text>'
               f'<text x="{W - PAD}" y="{H - 10}" font-size="10" text-anchor="end">offered new orders/s</text></svg>')
    return "".join(out)


def render(report: dict[str, Any]) -> str:
    """The whole report as one HTML page that fetches nothing."""
    steps = report["steps"]
    offered = [s["offered_per_s"] for s in steps]
    rates = _plot("Goodput and refusals", "per s", [
        ("offered", "#999", [(x, x) for x in offered]),
        ("completed lifecycles/s", "#2ca02c", [(x, s["goodput_per_s"]) for x, s in zip(offered, steps, strict=True)]),
        ("refusals/s", "#ff7f0e", [(x, s["refusals_per_s"]) for x, s in zip(offered, steps, strict=True)])])
    latency = _plot("Latency", "ms", [
        ("request p99", "#d62728", [(x, s["latency_ms"].get("p99", 0)) for x, s in zip(offered, steps, strict=True)]),
        ("refusal max", "#9467bd", [(x, s["refusal_ms"].get("max", 0)) for x, s in zip(offered, steps, strict=True)])])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row(s)) + "</tr>" for s in steps)
    capacity = (f"capacity {report['capacity_per_s']} completed lifecycles/s "
                f"({html.escape(str(report['capacity_source']))})" if report["capacity_per_s"] else "")
    config = html.escape(json.dumps(report["config"], indent=1))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Overload ramp</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:980px}}table{{border-collapse:collapse;margin:8px 0 20px}}
td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}}</style></head><body>
<h1>Overload ramp</h1>
<p>{capacity}. Each step offers new orders in an open model for {steps[0]['duration_s'] if steps else 0:g} s;
goodput counts lifecycles that completed; a refusal is a <code>503 overloaded</code> answer, retried after
the advised wait. Latency runs from each request's intended send time.</p>
{rates}{latency}
<table><tr>{head}</tr>{body}</table>
<h2>Run</h2><pre>{config}</pre></body></html>"""
