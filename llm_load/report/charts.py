"""The HTML report's chart data, computed from a summary: one JSON-ready dict per chart.

Each chart is `{"id", "title", "kind", "x", "x_label", "series", "marks"}` where `kind` is
`time` (x = seconds since the test started), `saturation` (x = active users, drawn with
fixed axis widths so that every chart against users lines up under the first) or
`percentiles` (x = 0..4 for `x_ticks` p50 p90 p95 p99 max); each series is
`{"label", "values", "scale", "unit", "style"}` (optionally a fixed `color`) with `scale`
`y` (left axis) or `y2` (right axis), `style` `line`, `points` or `line+points`, and
`values` aligned with `x` (null = no data). `marks` are stage boundaries `{"x", "label"}`.
The page's script draws them with uPlot; tests read the same data from the page. Nothing
here needs a browser.
"""

from __future__ import annotations

import math
from statistics import median
from typing import Any

from llm_load.report.rows import model_rows

__all__ = [
    "PERCENTILE_TICKS",
    "TTFT_COLOR",
    "chart_data",
    "saturation_levels",
    "saturation_note",
    "saturation_points",
]

PERCENTILE_TICKS = ("p50", "p90", "p95", "p99", "max")
_DISTRIBUTIONS = (("ttft_ms", "TTFT"), ("itl_ms", "ITL"), ("e2e_ms", "E2E"))
TTFT_COLOR = "#2ca02c"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _pct(point: dict[str, Any], dist: str, name: str) -> float | None:
    found = point.get(dist)
    return _num(found.get(name)) if isinstance(found, dict) else None


def _series(label: str, values: list, unit: str, scale: str = "y", style: str = "line") -> dict:
    return {"label": label, "values": values, "scale": scale, "unit": unit, "style": style}


def _chart(cid: str, title: str, kind: str, x: list, x_label: str, series: list) -> dict:
    return {"id": cid, "title": title, "kind": kind, "x": x, "x_label": x_label,
            "series": series, "marks": []}  # fmt: skip


def _points(summary: dict[str, Any]) -> list[dict[str, Any]]:
    series = summary.get("timeseries")
    points = series.get("points") if isinstance(series, dict) else None
    if not isinstance(points, list):
        return []
    good = [p for p in points if isinstance(p, dict) and _num(p.get("t_s")) is not None]
    return sorted(good, key=lambda p: p["t_s"])


def _marks(summary: dict[str, Any]) -> list[dict[str, Any]]:
    stages = summary.get("stages")
    marks: list[dict[str, Any]] = []
    for stage in stages if isinstance(stages, list) else []:
        if isinstance(stage, dict) and (start := _num(stage.get("start_s"))) is not None:
            label = stage.get("label") or f"stage {stage.get('index', len(marks))}"
            marks.append({"x": start, "label": str(label)})
    return marks


def _column(points: list[dict[str, Any]], key: str, name: str | None = None) -> list:
    """One value per point: `point[key]`, or `point[key][name]` for a distribution."""
    if name is None:
        return [_num(p.get(key)) for p in points]
    return [_pct(p, key, name) for p in points]


def _present(*series: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in series if any(v is not None for v in s["values"])]


def _time_series(points: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(id, title, series) of each chart over time, in page order; empty ones left out."""
    col = lambda *key: _column(points, *key)  # noqa: E731
    kinds = sorted({k for p in points if isinstance(p.get("errors"), dict) for k in p["errors"]})
    errors = [_series(k, [_num((p.get("errors") or {}).get(k, 0)) for p in points], "")
              for k in kinds]  # fmt: skip
    return [
        ("throughput", "Throughput over time", _present(
            _series("requests/s", col("requests_per_s"), "req/s"),
            _series("output tokens/s", col("output_tokens_per_s"), "tok/s", "y2"))),
        ("ttft", "TTFT over time", _present(
            _series("TTFT p50", col("ttft_ms", "p50"), "ms"),
            _series("TTFT p99", col("ttft_ms", "p99"), "ms"))),
        ("users", "Active users", _present(_series("users", col("users"), "users"))),
        ("e2e-itl", "E2E and ITL over time", _present(
            _series("E2E p50", col("e2e_ms", "p50"), "ms"),
            _series("E2E p99", col("e2e_ms", "p99"), "ms"),
            _series("ITL p50", col("itl_ms", "p50"), "ms", "y2"),
            _series("ITL p99", col("itl_ms", "p99"), "ms", "y2"))),
        ("errors", "Failures over time (per interval)", _present(
            _series("failures", col("failures"), "per interval", style="line+points"), *errors)),
    ]  # fmt: skip


def _time_charts(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    x = [float(p["t_s"]) for p in points]
    return [
        _chart(cid, title, "time", x, "time (s)", series)
        for cid, title, series in _time_series(points)
        if series
    ]


def saturation_levels(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per distinct active-user count: how many intervals, and the median output tok/s,
    req/s and TTFT p99 (ms) over them, in increasing user order."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for p in points:
        if (users := _num(p.get("users"))) is not None:
            groups.setdefault(int(users), []).append(p)
    levels = []
    for users, group in sorted(groups.items()):

        def mid(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return median(known) if known else None

        levels.append({
            "users": users,
            "intervals": len(group),
            "output_tokens_per_s": mid([_num(p.get("output_tokens_per_s")) for p in group]),
            "requests_per_s": mid([_num(p.get("requests_per_s")) for p in group]),
            "ttft_p99_ms": mid([_pct(p, "ttft_ms", "p99") for p in group]),
        })  # fmt: skip
    return levels


def saturation_points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points with a user count, by users then time: the x order of every chart against
    active users (so charts drawn on it line up); [] with fewer than two user counts."""
    usable = sorted(
        (p for p in points if _num(p.get("users")) is not None),
        key=lambda p: (p["users"], p["t_s"]),
    )
    return usable if len({p["users"] for p in usable}) >= 2 else []


def _saturation_chart(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Output tok/s and TTFT p99 vs active users: every interval as a point, plus a line
    through the median of each user level; None with fewer than two user counts."""
    usable = saturation_points(points)
    if not usable:
        return None  # one user count: nothing to compare
    x = [float(p["users"]) for p in usable]
    medians: list[float | None] = [None] * len(usable)
    by_users = {level["users"]: level for level in saturation_levels(usable)}
    for i, p in enumerate(usable):
        if i == 0 or usable[i - 1]["users"] != p["users"]:
            medians[i] = by_users[int(p["users"])]["output_tokens_per_s"]
    series = [
        _series("output tok/s", [_num(p.get("output_tokens_per_s")) for p in usable], "tok/s",
                style="points"),
        _series("median output tok/s per user count", medians, "tok/s"),
        _series("TTFT p99", [_pct(p, "ttft_ms", "p99") for p in usable], "ms", "y2", "points"),
    ]  # fmt: skip
    series[2]["color"] = TTFT_COLOR  # the same in the server's chart against users
    title = "Saturation: output tokens/s and TTFT p99 vs active users"
    return _chart("saturation", title, "saturation", x, "active users", series)


def _per_user_drop(levels: list[dict[str, Any]]) -> str:
    """A sentence when output tok/s per user fell by more than 10 % from the lowest user
    count to the highest (requests start to wait on each other), else ""."""
    low, top = levels[0], levels[-1]
    before = low["output_tokens_per_s"] / low["users"] if low["users"] else 0.0
    after = top["output_tokens_per_s"] / top["users"] if top["users"] else 0.0
    if not before or after > 0.9 * before:
        return ""
    return (
        f" Output per user fell from {before:,.0f} to {after:,.0f} tok/s "
        f"({(after / before - 1) * 100:+.0f} %) between {low['users']} and {top['users']} users."
    )


def saturation_note(summary: dict[str, Any]) -> str | None:
    """Where throughput stops growing, from the per-user-count medians: the first user count
    whose median output tok/s reaches 90 % of the peak; None with fewer than 2 user counts."""
    levels = [lv for lv in saturation_levels(_points(summary)) if lv["output_tokens_per_s"]]
    if len(levels) < 2:
        return None
    peak = max(levels, key=lambda lv: lv["output_tokens_per_s"])
    knee = next(
        lv for lv in levels if lv["output_tokens_per_s"] >= 0.9 * peak["output_tokens_per_s"]
    )
    top = levels[-1]
    if knee is top:
        note = (
            f"No plateau: output tokens/s still grew at the highest user count "
            f"({top['users']} users, median {top['output_tokens_per_s']:,.0f} tok/s)."
        )
        return note + _per_user_drop(levels)
    note = (
        f"Throughput levels off at about {knee['users']} users, the first user count whose "
        f"median output rate reaches 90 % of the peak ({peak['output_tokens_per_s']:,.0f} "
        f"tok/s at {peak['users']} users)."
    )
    if knee["ttft_p99_ms"] is not None and top["ttft_p99_ms"] is not None:
        note += (
            f" Median TTFT p99: {knee['ttft_p99_ms']:,.0f} ms at {knee['users']} users, "
            f"{top['ttft_p99_ms']:,.0f} ms at {top['users']} users."
        )
    return note + _per_user_drop(levels)


def _distribution_charts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = model_rows(summary, always_total=False)
    charts = []
    for dist, label in _DISTRIBUTIONS:
        series = [
            _series(name, [_pct(m, dist, t) for t in PERCENTILE_TICKS], "ms", style="line+points")
            for name, m in rows
        ]
        if any(v is not None for s in series for v in s["values"]):
            chart = _chart(f"dist-{dist}", f"{label} percentiles (ms)", "percentiles",
                           list(range(len(PERCENTILE_TICKS))), "percentile", series)  # fmt: skip
            chart["x_ticks"] = list(PERCENTILE_TICKS)
            charts.append(chart)
    return charts


def chart_data(summary: dict[str, Any]) -> dict[str, Any]:
    """Everything the page draws: `{"charts": [...], "interval_s": float | None}`; time and
    saturation charts only when the summary has a `timeseries`."""
    points = _points(summary)
    charts: list[dict[str, Any]] = []
    if points:
        saturation = _saturation_chart(points)
        charts += [saturation] if saturation else []
        marks = _marks(summary)
        for chart in _time_charts(points):
            chart["marks"] = marks
            charts.append(chart)
    charts += _distribution_charts(summary)
    series = summary.get("timeseries")
    interval = _num(series.get("interval_s")) if isinstance(series, dict) else None
    return {"charts": charts, "interval_s": interval}
