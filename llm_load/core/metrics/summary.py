"""The run summary (`summary.json`, schema `llm-load/summary/v1`) built from a book.

Scripts and CI read this file: keep its names stable and extend, never rename. With an SLO
on the book, each `METRICS` object has `goodput` and each time-series point `good`.
`settings` must already be redacted by the caller (no API key may reach it).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.summary_types import Metrics, Stage, Summary, TimeSeries, WorkerReport
from llm_load.core.metrics.turns import turns_summary

__all__ = [
    "SCHEMA",
    "Stage",
    "Summary",
    "WorkerReport",
    "add_api",
    "build_summary",
    "stage_index",
    "write_summary",
]

SCHEMA = "llm-load/summary/v1"


def build_summary(
    book: MetricsBook,
    *,
    started_at: float,
    duration_s: float,
    target: str,
    settings: dict[str, Any],
    users: dict[int, int] | None = None,
    stages: list[Stage] | None = None,
) -> Summary:
    """The summary dict; `started_at` is epoch seconds, rates are per `duration_s` (after
    the warm-up, when the book had one: see `warmup`; after a "Reset stats": `stats_reset`).

    `users` maps a time-series window key to the users active then; `stages` are
    `{"index", "start_s", "label"}` in order (the scenario's load stages)."""
    warm_s = _after(book.warmup_until, started_at, duration_s)
    reset_s = _after(book.reset_at, started_at, duration_s) if book.reset_at else 0.0
    measured_s = duration_s - max(warm_s if book.warmup_requests else 0.0, reset_s)
    summary: Summary = {
        "schema": SCHEMA,
        "started_at": datetime.fromtimestamp(started_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(duration_s, 3),
        "target": target,
        "settings": settings,
        "totals": book.totals().summary(measured_s, book.slo),
        "by_model": {
            name: m.summary(measured_s, book.slo) for name, m in sorted(book.by_model.items())
        },
        "errors": book.error_list(),
        "timeseries": timeseries(book, started_at, duration_s, users or {}, stages or []),
        "stages": stages or [],
        "thresholds": [],
        "passed": True,
    }
    if not book.arrivals.empty:
        summary["arrivals"] = cast(Any, book.arrivals.summary(duration_s))
    if book.by_turn:
        summary["by_turn"] = turns_summary(book.by_turn)  # multi-turn conversations
    if book.warmup_requests:
        summary["warmup"] = {
            "requests": book.warmup_requests,  # in the time series, not in totals/by_model
            "ended_s": round(warm_s, 3),  # after the start; rates count from there
            "measured_s": round(measured_s, 3),
        }
    if book.reset_at:
        summary["stats_reset"] = {"at_s": round(reset_s, 3), "measured_s": round(measured_s, 3)}
    return summary


def _after(epoch_s: float, started_at: float, duration_s: float) -> float:
    """Seconds from the start to `epoch_s`, within the run."""
    return min(duration_s, max(0.0, epoch_s - started_at))


def add_api(metrics: Metrics, api: str, batch: int, duration_s: float) -> None:
    """Say which API a `by_model` entry's calls used; embeddings add `inputs_per_s`
    (successful requests x `batch` inputs) and `input_tokens_per_s`, over `duration_s`."""
    metrics["api"] = api
    if api == "embeddings":
        done = metrics["requests"] - metrics["failures"]  # cancelled calls are apart
        per_s = 1.0 / duration_s if duration_s > 0 else 0.0
        metrics["inputs_per_s"] = done * batch * per_s
        metrics["input_tokens_per_s"] = metrics["input_tokens"] * per_s


def timeseries(
    book: MetricsBook,
    started_at: float,
    duration_s: float,
    users: dict[int, int],
    stages: list[Stage],
) -> TimeSeries:
    """`timeseries` of summary.json: one point per interval, with users and stage. The first
    and last intervals are cut by the run's start and end: their rates are per second of
    the part inside the run, and `t_s` of the last one is the run's end. Intervals that
    began during the warm-up are marked `warmup: true`, those that began before a "Reset
    stats" `before_reset: true` (their calls sent before it are absent from the totals)."""
    series = book.series
    interval = series.interval_s
    points = series.points(started_at)
    for point in points:
        end = point["t_s"]
        key = series.key(started_at + end - interval / 2)
        covered = min(end, duration_s) - max(end - interval, 0.0)
        if 0.0 < covered < interval:
            point["t_s"] = round(min(end, duration_s), 3)
            point["requests_per_s"] = point["requests"] / covered
            point["output_tokens_per_s"] = point["output_tokens"] / covered
        point["users"] = users.get(key)
        point["stage"] = stage_index(stages, end - interval)
        if book.warmup_requests and end - interval < book.warmup_until - started_at:
            point["warmup"] = True  # the interval holds warm-up calls (absent from totals)
        if book.reset_at and end - interval < book.reset_at - started_at:
            point["before_reset"] = True
        if book.slo is None:
            point.pop("good", None)  # requests that met the SLO: only when the run has one
    return {"interval_s": interval, "points": cast(Any, points)}


def stage_index(stages: list[Stage], t_s: float) -> int | None:
    """The index of the stage (`start_s` ascending) running `t_s` s into the run, or None."""
    current = None
    for stage in stages:
        if stage["start_s"] <= max(t_s, 0.0):
            current = stage["index"]
    return current


def write_summary(summary: Summary, path: str | os.PathLike[str]) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
