"""The self-contained HTML report: a header (date, version, command line, settings), tables,
and plotly charts with plotly.js inlined from the installed package; nothing fetched from elsewhere."""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from . import plots
from .stats import fmt_ms

PATH_KEYS = ("report", "html", "data_dir", "config")


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """A run's settings as its report shows them: no token or callback, and files by their
    names alone (a committed report carries no paths of the machine that made it)."""
    settings = {k: v for k, v in vars(args).items() if k not in ("admin_token", "on_step")}
    for key in PATH_KEYS:
        if settings.get(key):
            settings[key] = Path(settings[key]).name
    return settings


def offered_rate(config: dict[str, Any], second: float) -> float | None:
    """New orders/s the schedule offered at `second` of an open-model run (None: closed loop)."""
    if config.get("concurrency") or config.get("rate") is None:
        return None
    start, ramp = config.get("ramp_from"), config.get("ramp") or 0
    if start is None or ramp <= 0:
        return config["rate"]
    return start + (config["rate"] - start) * min(1.0, second / ramp)


def figures(report: dict[str, Any]) -> list[go.Figure]:
    """Latency and throughput against time, and offered load against goodput when it ramps."""
    tl, events = report["timeline"], report["events"]
    seconds = [p["second"] for p in tl]
    out = [
        plots.figure("Latency per second", "time since start (s)", "latency (ms)", [
            ("p50", seconds, [p["p50_ms"] for p in tl]),
            ("p99", seconds, [p["p99_ms"] for p in tl])], events),
        plots.figure("Throughput per second", "time since start (s)", "per second", [
            ("requests/s", seconds, [p["requests"] for p in tl]),
            ("errors/s", seconds, [p["errors"] for p in tl]),
            ("completed orders/s", seconds, [p["completed"] for p in tl])], events)]
    config = report.get("config", {})
    if config.get("ramp_from") is not None and (config.get("ramp") or 0) > 0:
        offered = [offered_rate(config, x) for x in seconds]
        out.append(plots.figure("Overload curve: offered load against goodput",
                                "offered new orders/s", "completed orders/s (goodput)",
                                [("goodput", offered, [p["completed"] for p in tl])],
                                markers=True))
    return out


def render(report: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{s['count']}</td>"
        + "".join(f"<td>{fmt_ms(s.get(k))}</td>" for k in ("p50", "p90", "p99", "p99.9", "max"))
        + "</tr>" for name, s in report["endpoints"].items())
    errors = "".join(f"<tr><td>{html.escape(e['endpoint'])}</td><td>{e['status']}</td>"
                     f"<td>{html.escape(e['code'])}</td><td>{e['count']}</td></tr>"
                     for e in report["errors_by"]) or "<tr><td colspan=4>none</td></tr>"
    lat, life = report["latency_ms"], report["lifecycle_ms"]
    body = f"""<p class="big">{report['completed_per_s']} completed orders/s · {report['requests_per_s']} requests/s ·
{report['errors']} errors · p99 {fmt_ms(lat.get('p99'))} ms</p>
<p>{report['requests']} requests in {report['elapsed_s']} s; lifecycles {html.escape(json.dumps(report['lifecycles']))};
complete lifecycle p50 {fmt_ms(life.get('p50'))} ms, p99 {fmt_ms(life.get('p99'))} ms.
Latency is measured from each request's intended send time (coordinated omission corrected).</p>
<h2>Endpoints (ms)</h2><table><tr><th>endpoint</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>{rows}
<tr><th>all</th><th>{lat.get('count', 0)}</th>{''.join(f"<th>{fmt_ms(lat.get(k))}</th>" for k in ('p50', 'p90', 'p99', 'p99.9', 'max'))}</tr></table>
<h2>Errors</h2><table><tr><th>endpoint</th><th>status</th><th>code</th><th>count</th></tr>{errors}</table>
<h2>Over time</h2>"""
    return plots.page("Load test report", report, body, figures(report))
