"""The server panel's charts (the report's chart shape, `llm_load.report.charts`).

`server_charts(summary)` gives, from the `server` block of each time-series point: first,
against active users and on the saturation curve's own x (kind `saturation`, so the page
draws it right under that curve with the same axes), requests waiting and running with the
client's TTFT p99 — the queue forming where TTFT rises; then, over time with the stage
lines, requests running and waiting with the client's TTFT p99, KV-cache use and
prefix-cache hit rate, and TTFT p99 client vs the server's histogram. Empty charts are left
out; a summary without server points gives none.
"""

from __future__ import annotations

from statistics import median
from typing import Any

from llm_load.report.charts import TTFT_COLOR, saturation_points
from llm_load.report.server import server_points

__all__ = ["server_charts"]

WAITING_COLOR, RUNNING_COLOR = "#d62728", "#1f77b4"


def _series(label: str, values: list[Any], unit: str, **more: str) -> dict[str, Any]:
    return {"label": label, "values": values, "scale": "y", "unit": unit, "style": "line", **more}


def _server(point: dict[str, Any], key: str) -> Any:
    value = (point.get("server") or {}).get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _client_p99(points: list[dict[str, Any]]) -> dict[str, Any]:
    values = [(p.get("ttft_ms") or {}).get("p99") for p in points]
    return _series("client TTFT p99", values, "ms", scale="y2", color=TTFT_COLOR)


def _level_medians(points: list[dict[str, Any]], key: str) -> list[Any]:
    """The median of `server[key]` per user count, on the first point of each count."""
    out: list[Any] = [None] * len(points)
    for i, p in enumerate(points):
        if i and points[i - 1]["users"] == p["users"]:
            continue
        known = [
            v for q in points if q["users"] == p["users"] and (v := _server(q, key)) is not None
        ]
        out[i] = median(known) if known else None
    return out


def _users_chart(summary: dict[str, Any]) -> dict[str, Any] | None:
    """Waiting and running vs active users, with the client's TTFT p99 on the right."""
    points = saturation_points((summary.get("timeseries") or {}).get("points") or [])
    if not any(_server(p, "waiting") is not None for p in points):
        return None
    series = [
        _series("requests waiting", [_server(p, "waiting") for p in points], "requests",
                style="points", color=WAITING_COLOR),
        _series("median waiting per user count", _level_medians(points, "waiting"), "requests",
                color=WAITING_COLOR),
        _series("median running per user count", _level_medians(points, "running"), "requests",
                color=RUNNING_COLOR),
        {**_client_p99(points), "style": "points"},
    ]  # fmt: skip
    return {"id": "server-users", "title": "Server queue vs active users, with TTFT p99",
            "kind": "saturation", "x": [float(p["users"]) for p in points],
            "x_label": "active users", "series": series, "marks": []}  # fmt: skip


def _time_charts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    points = server_points(summary)
    x = [float(p["t_s"]) for p in points]
    stages = summary.get("stages") or []
    marks = [{"x": s["start_s"], "label": str(s.get("label", ""))} for s in stages]

    def col(key: str, stat: str | None = None) -> list[Any]:
        values = [p["server"].get(key) for p in points]
        return [v.get(stat) if isinstance(v, dict) else None for v in values] if stat else values

    groups = (
        ("server-queue", "Server: requests running and waiting, with TTFT p99",
         [_series("running", col("running"), "requests", color=RUNNING_COLOR),
          _series("waiting", col("waiting"), "requests", color=WAITING_COLOR),
          _client_p99(points)]),
        ("server-cache", "Server: KV-cache use and prefix-cache hit rate",
         [_series("KV-cache use", col("kv_cache_usage"), "0-1"),
          _series("prefix-cache hit rate", col("prefix_cache_hit_rate"), "0-1")]),
        ("server-ttft", "TTFT p99: client vs the server's histogram",
         [_series("client TTFT p99", _client_p99(points)["values"], "ms"),
          _series("server TTFT p99", col("ttft_ms", "p99"), "ms")]),
    )  # fmt: skip
    charts = []
    for cid, title, group in groups:
        present = [s for s in group if any(v is not None for v in s["values"])]
        server_own = [s for s in present if not s["label"].startswith("client")]
        if server_own and (cid != "server-ttft" or len(present) == 2):
            charts.append({"id": cid, "title": title, "kind": "server", "x": x,
                           "x_label": "time (s)", "series": present, "marks": marks})  # fmt: skip
    return charts


def server_charts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The server panel's charts: against users first (if any), then over time."""
    users = _users_chart(summary)
    return ([users] if users else []) + _time_charts(summary)
