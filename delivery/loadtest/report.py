"""The self-contained HTML report: tables and inline SVG plots, nothing fetched from elsewhere."""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path
from typing import Any

from .stats import fmt_ms

W, H, PAD = 760, 220, 40
PATH_KEYS = ("report", "html", "data_dir", "config")


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """A run's settings as its report shows them: no token or callback, and files by their
    names alone (a committed report carries no paths of the machine that made it)."""
    settings = {k: v for k, v in vars(args).items() if k not in ("admin_token", "on_step")}
    for key in PATH_KEYS:
        if settings.get(key):
            settings[key] = Path(settings[key]).name
    return settings


def _polyline(points: list[tuple[float, float]], xmax: float, ymax: float, colour: str) -> str:
    if not points:
        return ""
    sx = (W - 2 * PAD) / max(xmax, 1)
    sy = (H - 2 * PAD) / max(ymax, 1e-9)
    coords = " ".join(f"{PAD + x * sx:.1f},{H - PAD - y * sy:.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{coords}"/>'


def _chart(title: str, series: list[tuple[str, str, list[tuple[float, float]]]], unit: str,
           events: list[dict[str, Any]], log_hint: str = "") -> str:
    xmax = max((x for _, _, pts in series for x, _ in pts), default=1)
    ymax = max((y for _, _, pts in series for _, y in pts), default=1) * 1.1 or 1
    parts = [f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{html.escape(title)}">',
             f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" fill="#fafafa" stroke="#ccc"/>']
    for i in range(5):
        y = ymax * i / 4
        py = H - PAD - (H - 2 * PAD) * i / 4
        parts.append(f'<text x="{PAD - 4}" y="{py + 4:.0f}" font-size="10" text-anchor="end">{y:.0f}</text>')
    for e in events:
        px = PAD + e["at_s"] * (W - 2 * PAD) / max(xmax, 1)
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{PAD}" y2="{H - PAD}" stroke="#d33" stroke-dasharray="4 3"/>'
                     f'<text x="{px + 3:.1f}" y="{PAD + 10}" font-size="10" fill="#d33">{html.escape(e["label"])}</text>')
    for _, colour, pts in series:
        parts.append(_polyline(pts, xmax, ymax, colour))
    legend = " ".join(f'<tspan fill="{c}">■ {html.escape(n)}</tspan>' for n, c, _ in series)
    parts.append(f'<text x="{PAD}" y="{PAD - 10}" font-size="12">{html.escape(title)} ({unit}) {legend}</text>')
    parts.append(f'<text x="{W - PAD}" y="{H - 8}" font-size="10" text-anchor="end">seconds{log_hint}</text></svg>')
    return "".join(parts)


def render(report: dict[str, Any]) -> str:
    tl = report["timeline"]
    latency = _chart("Latency per second", [
        ("p50", "#1f77b4", [(p["second"], p["p50_ms"]) for p in tl]),
        ("p99", "#d62728", [(p["second"], p["p99_ms"]) for p in tl])], "ms", report["events"])
    throughput = _chart("Throughput per second", [
        ("requests/s", "#2ca02c", [(p["second"], p["requests"]) for p in tl]),
        ("errors/s", "#d62728", [(p["second"], p["errors"]) for p in tl]),
        ("completed orders/s", "#9467bd", [(p["second"], p["completed"]) for p in tl])], "per s",
        report["events"])
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{s['count']}</td>"
        + "".join(f"<td>{fmt_ms(s.get(k))}</td>" for k in ("p50", "p90", "p99", "p99.9", "max"))
        + "</tr>" for name, s in report["endpoints"].items())
    errors = "".join(f"<tr><td>{html.escape(e['endpoint'])}</td><td>{e['status']}</td>"
                     f"<td>{html.escape(e['code'])}</td><td>{e['count']}</td></tr>"
                     for e in report["errors_by"]) or "<tr><td colspan=4>none</td></tr>"
    lat, life = report["latency_ms"], report["lifecycle_ms"]
    config = html.escape(json.dumps(report["config"], indent=1))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Load test report</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:980px}}table{{border-collapse:collapse;margin:8px 0 20px}}
td,th{{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
.big{{font-size:22px;font-weight:600}}</style></head><body>
<h1>Load test report</h1>
<p class="big">{report['completed_per_s']} completed orders/s · {report['requests_per_s']} requests/s ·
{report['errors']} errors · p99 {fmt_ms(lat.get('p99'))} ms</p>
<p>{report['requests']} requests in {report['elapsed_s']} s; lifecycles {html.escape(json.dumps(report['lifecycles']))};
complete lifecycle p50 {fmt_ms(life.get('p50'))} ms, p99 {fmt_ms(life.get('p99'))} ms.
Latency is measured from each request's intended send time (coordinated omission corrected).</p>
{latency}{throughput}
<h2>Endpoints (ms)</h2><table><tr><th>endpoint</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>{rows}
<tr><th>all</th><th>{lat.get('count', 0)}</th>{''.join(f"<th>{fmt_ms(lat.get(k))}</th>" for k in ('p50', 'p90', 'p99', 'p99.9', 'max'))}</tr></table>
<h2>Errors</h2><table><tr><th>endpoint</th><th>status</th><th>code</th><th>count</th></tr>{errors}</table>
<h2>Run</h2><pre>{config}</pre></body></html>"""
