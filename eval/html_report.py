"""A self-contained HTML report: metrics, plots (inline SVG) and failing questions.

No plotting library and no external files: the page opens anywhere, offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from eval.runner import ItemResult

__all__ = ["render_report"]

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#1f2937}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #e5e7eb}
table{border-collapse:collapse;width:100%}
td,th{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.fail{color:#b91c1c;font-weight:600}.pass{color:#047857;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:24px}.plot{border:1px solid #e5e7eb;border-radius:8px;padding:8px}
small{color:#6b7280}
"""


def _histogram(
    series: dict[str, Sequence[float]],
    colours: dict[str, str],
    title: str,
    marker: float | None = None,
    bins: int = 20,
    width: int = 460,
    height: int = 220,
) -> str:
    values = [v for vs in series.values() for v in vs]
    if not values:
        return ""
    low = min([*values, marker if marker is not None else values[0]])
    high = max([*values, marker if marker is not None else values[0]])
    span = (high - low) or 1.0
    counts = {
        name: [sum(1 for v in vs if min(int((v - low) / span * bins), bins - 1) == b) for b in range(bins)]
        for name, vs in series.items()
    }
    top = max(max(c) for c in counts.values()) or 1
    plot_w, plot_h, left, bottom = width - 50, height - 60, 40, height - 30
    bar_w = plot_w / bins / max(1, len(series))
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">']
    parts.append(f'<text x="{left}" y="16" font-size="13" font-weight="600">{html.escape(title)}</text>')
    for s_index, (name, c) in enumerate(counts.items()):
        for b, count in enumerate(c):
            h = count / top * plot_h
            x = left + b * plot_w / bins + s_index * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{colours[name]}"><title>{html.escape(name)}: {count}</title></rect>'
            )
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" stroke="#9ca3af"/>')
    parts.append(f'<text x="{left}" y="{bottom + 16}" font-size="11">{low:.2f}</text>')
    parts.append(f'<text x="{left + plot_w - 30}" y="{bottom + 16}" font-size="11">{high:.2f}</text>')
    if marker is not None:
        x = left + (marker - low) / span * plot_w
        parts.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{bottom}" stroke="#111827" stroke-dasharray="4"/>')
        parts.append(f'<text x="{x + 4:.1f}" y="34" font-size="11">threshold {marker:.3f}</text>')
    for i, name in enumerate(series):  # legend, top right, clear of the axis labels
        y = 16
        x = width - 150 * (len(series) - i)
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colours[name]}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" font-size="11">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bars(values: dict[str, float], title: str, width: int = 460) -> str:
    row_h = 22
    height = 30 + row_h * len(values)
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">']
    parts.append(f'<text x="0" y="16" font-size="13" font-weight="600">{html.escape(title)}</text>')
    for i, (name, value) in enumerate(values.items()):
        y = 26 + i * row_h
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(name)}</text>')
        parts.append(f'<rect x="180" y="{y + 3}" width="{value * 220:.1f}" height="14" fill="#2563eb"/>')
        parts.append(f'<text x="{186 + value * 220:.1f}" y="{y + 14}" font-size="11">{value:.0%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_report(
    summary: dict[str, object],
    results: Sequence[ItemResult],
    gate: list[tuple[str, float, float, bool]],
    threshold: float,
    judge: str,
    title: str = "Grounded QA eval report",
) -> str:
    answerable = [r.answer.support for r in results if r.item.answerable]
    unanswerable = [r.answer.support for r in results if not r.item.answerable]
    plots = [
        _histogram(
            {"answerable": answerable, "unanswerable": unanswerable},
            {"answerable": "#2563eb", "unanswerable": "#f97316"},
            "Best-evidence score by question type",
            marker=threshold,
        ),
        _bars(summary["per_category"], "Accuracy per category"),  # type: ignore[arg-type]
        _histogram(
            {"total latency (ms)": [r.answer.timings_ms["total"] for r in results]},
            {"total latency (ms)": "#059669"},
            "Answer latency",
        ),
    ]
    gate_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{value:.3f}</td><td>{html.escape(rule)}</td>"
        f'<td class="{"pass" if ok else "fail"}">{"pass" if ok else "FAIL"}</td></tr>'
        for name, value, rule, ok in ((n, v, _rule(lim), ok) for n, v, lim, ok in gate)
    )
    metric_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v:.3f}</td></tr>" for k, v in summary.items() if isinstance(v, float)
    )
    latency = summary["latency_ms"]
    latency_rows = "".join(
        f"<tr><td>{stage}</td><td>{v['p50']:.1f}</td><td>{v['p95']:.1f}</td></tr>"
        for stage, v in latency.items()  # type: ignore[union-attr]
    )
    failing = [r for r in results if not r.correct]
    failing_rows = "".join(
        f"<tr><td>{html.escape(r.item.id)}</td><td>{html.escape(r.item.category)}</td>"
        f"<td>{html.escape(r.item.question)}</td><td>{html.escape(r.answer.answer)}</td>"
        f"<td>{html.escape('; '.join(e.text for e in r.item.evidence) or '(should refuse)')}</td>"
        f"<td>{r.answer.support:.3f}</td></tr>"
        for r in failing
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p><small>{summary["questions"]} questions ({summary["answerable"]} answerable, {summary["unanswerable"]}
unanswerable). Citation judge: {html.escape(judge)}.</small></p>
<h2>Gate</h2><table><tr><th>metric</th><th>value</th><th>rule</th><th></th></tr>{gate_rows}</table>
<h2>Plots</h2><div class="plots">{"".join(f'<div class="plot">{p}</div>' for p in plots if p)}</div>
<h2>Metrics</h2><table>{metric_rows}</table>
<h2>Latency (ms)</h2><table><tr><th>stage</th><th>p50</th><th>p95</th></tr>{latency_rows}</table>
<h2>Failing questions ({len(failing)})</h2>
<table><tr><th>id</th><th>category</th><th>question</th><th>answered</th><th>gold evidence</th><th>score</th></tr>
{failing_rows}</table></body></html>"""


def _rule(limit: dict[str, float]) -> str:  # type: ignore[override]
    return " and ".join(f"{'≥' if key == 'min' else '≤'} {value}" for key, value in limit.items())
