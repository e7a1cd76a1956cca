"""Charts of the load-test reports, drawn by plotly (a dependency; its plotly.js is inlined once
per report from the installed package, so a report opens anywhere with nothing fetched)."""

from __future__ import annotations

import html
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

COLOURS = {"p50": "#1f77b4", "p99": "#d62728", "requests/s": "#2ca02c", "errors/s": "#d62728",
           "completed orders/s": "#9467bd", "offered": "#1f77b4", "goodput": "#2ca02c",
           "refusals/s": "#d62728"}


def figure(title: str, x_title: str, y_title: str,
           series: list[tuple[str, list[float], list[float | None]]],
           events: list[dict[str, Any]] = (), markers: bool = False) -> go.Figure:
    """A line chart with titled axes, ticks at round values, and fault events as dashed lines."""
    fig = go.Figure()
    for name, xs, ys in series:
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers" if markers else "lines",
                                 line={"color": COLOURS.get(name), "width": 1.8}))
    for e in events:
        fig.add_vline(x=e["at_s"], line={"color": "#d33", "dash": "dash", "width": 1},
                      annotation_text=e["label"], annotation_position="top left",
                      annotation_font={"size": 10, "color": "#d33"})
    fig.update_layout(title={"text": title}, height=300, margin={"l": 70, "r": 20, "t": 50, "b": 55},
                      template="plotly_white", legend={"orientation": "h", "y": 1.12, "x": 1,
                                                       "xanchor": "right"})
    fig.update_xaxes(title_text=x_title, tickformat=",~r", nticks=12, rangemode="tozero")
    fig.update_yaxes(title_text=y_title, tickformat=",~r", nticks=8, rangemode="tozero")
    return fig


def header(report: dict[str, Any], title: str) -> str:
    """Date, version and command line of the run, then its settings as a table."""
    try:
        ours = version("delivery")
    except PackageNotFoundError:
        ours = "unknown"
    made = report.get("made_at") or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = report.get("command") or ""
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_value(v))}</td></tr>"
                   for k, v in sorted(report.get("config", {}).items()) if k != "on_step")
    return (f"<h1>{html.escape(title)}</h1><p class=meta>{html.escape(made)} · delivery "
            f"{html.escape(ours)}<br><code>{html.escape(command)}</code></p>"
            f"<details><summary>Settings</summary><table class=settings>"
            f"<tr><th>setting</th><th>value</th></tr>{rows}</table></details>")


def _value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "—"
    return str(v)


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed, with files by their names alone (no paths of this machine)."""
    argv = sys.argv[2:] if argv is None else argv
    return " ".join(["run.py loadtest"] + [Path(a).name if "/" in a and not a.startswith("http")
                                           else a for a in argv])


def stamped(report: dict[str, Any], argv: list[str] | None) -> dict[str, Any]:
    """The report with the time it was made and the command that made it."""
    return {**report, "made_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command_line(argv)}


def page(title: str, report: dict[str, Any], body: str, figures: list[go.Figure]) -> str:
    charts = "".join(f.to_html(full_html=False, include_plotlyjs=False,
                               config={"displaylogo": False, "responsive": True})
                     for f in figures)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:1000px}}table{{border-collapse:collapse;margin:8px 0 20px}}
td,th{{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
table.settings td{{text-align:left}}.big{{font-size:22px;font-weight:600}}.meta{{color:#555}}</style>
<script>{get_plotlyjs()}</script></head><body>
{header(report, title)}{body}{charts}</body></html>"""
