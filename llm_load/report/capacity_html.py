"""The capacity section of the HTML report: one inline SVG chart per percentile limit (load
→ the observed percentile of each step, the limit drawn, the answer marked) and the steps.

`capacity_section(capacity)` renders the summary's `capacity` block; the chart needs no
script (plain SVG), passing steps are green dots and failing ones red. Every text is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from llm_load.core.capacity.text import capacity_line, load_text

__all__ = ["capacity_section"]

WIDTH, HEIGHT, PAD = 560, 220, 44


def _scale(values: list[float], size: float, flip: bool = False) -> Any:
    low, high = 0.0, max(values) * 1.1 or 1.0
    usable = size - 2 * PAD

    def at(value: float) -> float:
        share = (value - low) / (high - low)
        return PAD + (1 - share) * usable if flip else PAD + share * usable

    return at, high


def _points(capacity: dict[str, Any], slo: str) -> list[tuple[float, float, bool]]:
    out = []
    for step in capacity["steps"]:
        for check in step["checks"]:
            if check["slo"] == slo and check["value"] is not None:
                out.append((float(step["load"]), float(check["value"]), bool(step["passed"])))
    return out


def _chart(capacity: dict[str, Any], slo: str, limit: float) -> str:
    points = _points(capacity, slo)
    if not points:
        return ""
    x, x_high = _scale([p[0] for p in points], WIDTH)
    y, y_high = _scale([p[1] for p in points] + [limit], HEIGHT, flip=True)
    parts = [f'<line x1="{PAD}" y1="{y(limit):.1f}" x2="{WIDTH - PAD}" y2="{y(limit):.1f}" '
             'stroke="#a01d1d" stroke-dasharray="6 4"/>',
             f'<text x="{WIDTH - PAD}" y="{y(limit) - 4:.1f}" text-anchor="end" font-size="11">'
             f"limit {limit:g} ms</text>"]  # fmt: skip
    if capacity["value"] is not None:
        vx = x(float(capacity["value"]))
        parts.append(f'<line x1="{vx:.1f}" y1="{PAD}" x2="{vx:.1f}" y2="{HEIGHT - PAD}" '
                     'stroke="#1d6a2c" stroke-width="2"/>')  # fmt: skip
        answer = escape(load_text(capacity["value"], capacity["unit"]))
        parts.append(f'<text x="{vx + 4:.1f}" y="{PAD + 10}" font-size="11">answer {answer}</text>')
    for load, value, passed in sorted(points):
        colour = "#1d6a2c" if passed else "#a01d1d"
        parts.append(f'<circle cx="{x(load):.1f}" cy="{y(value):.1f}" r="4" fill="{colour}">'
                     f"<title>{load:g}: {value:,.1f} ms</title></circle>")  # fmt: skip
    axes = (f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
            f'stroke="#888"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" '
            f'stroke="#888"/><text x="{WIDTH / 2}" y="{HEIGHT - 10}" text-anchor="middle" '
            f'font-size="11">{escape(capacity["unit"])} (0 – {x_high:,.1f})</text>'
            f'<text x="6" y="{PAD - 8}" font-size="11">{escape(slo)} '
            f"(0 – {y_high:,.0f} ms)</text>")  # fmt: skip
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'role="img">{axes}{"".join(parts)}</svg>')  # fmt: skip


def _limits(capacity: dict[str, Any]) -> list[tuple[str, float]]:
    first = capacity["steps"][0]["checks"] if capacity["steps"] else []
    out = []
    for check in first:
        label = check["slo"]
        if " ms" in label and "≤" in label:
            out.append((label, float(label.split("≤")[1].split("ms")[0])))
    return out


def _steps_table(capacity: dict[str, Any]) -> str:
    head = ["step", "load", "requests", "req/s", "TTFT p99", "TPOT p99", "E2E p99", "goodput",
            "errors", "verdict", "reason"]  # fmt: skip
    rows = []
    for s in capacity["steps"]:
        p99 = [(s.get(m) or {}).get("p99") for m in ("ttft_ms", "tpot_ms", "e2e_ms")]
        good = "-" if s["goodput"] is None else f"{s['goodput']:.1%}"
        verdict = ("PASS" if s["passed"] else "FAIL") + f" ({s['decided']})"
        cells = [
            str(s["step"]),
            load_text(s["load"], capacity["unit"]),
            f"{s['requests']:,}",
            f"{s['requests_per_s']:.1f}",
            *("-" if v is None else f"{v:,.0f}" for v in p99),
            good,
            f"{s['error_rate']:.1%}",
            verdict,
            s["reason"],
        ]
        rows.append("".join(f"<td>{escape(c)}</td>" for c in cells))
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def capacity_section(capacity: dict[str, Any]) -> str:
    """The section's inner HTML: the answer, a chart per percentile limit, the steps."""
    charts = "".join(_chart(capacity, label, limit) for label, limit in _limits(capacity))
    return f"<p><strong>{escape(capacity_line(capacity))}</strong></p>{charts}" + _steps_table(
        capacity
    )
