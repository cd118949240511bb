"""The one catalogue of the per-model numbers every table shows, and which table shows which.

Each `Metric` says once where a summary `METRICS` object holds a number (`path`), its stable
`key` (a CSV column, documented in `docs/reports.md`), its header `title`, its `unit` and the
`decimals` a live table rounds to; `web_key` names its column in the web UI's LLM tab. The
views are tuples of keys: `CSV_COLUMNS`, `REPORT_COLUMNS` (Markdown and HTML, plus
`TOOL_COLUMNS` / `GOODPUT_COLUMNS` when the run has them), `WEB_COLUMNS` and
`CONSOLE_COLUMNS`. `value(metrics, key)` reads a number leniently: None (an empty cell)
when an older or smaller summary lacks it, never an error. Units: `ms`, `/s` and `tok/s`
(per second of the run), `share` (0..1; tables show a percentage), `count`, `tokens`.
`ALL_MODELS` labels the totals row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALL_MODELS",
    "CATALOGUE",
    "CONSOLE_COLUMNS",
    "CSV_COLUMNS",
    "GOODPUT_COLUMNS",
    "REPORT_COLUMNS",
    "TOOL_COLUMNS",
    "WEB_COLUMNS",
    "Metric",
    "value",
]

ALL_MODELS = "(all)"  # the totals row of every table (the web UI keeps "all models")


@dataclass(frozen=True, slots=True)
class Metric:
    """One number of a `METRICS` object as the tables show it."""

    key: str
    title: str
    unit: str
    path: tuple[str, ...]  # () for the derived `usage_estimated_share`
    decimals: int  # for shares: of the percentage
    web_key: str = ""


def _m(key: str, title: str, unit: str, path: str, decimals: int, web: str = "") -> Metric:
    return Metric(key, title, unit, tuple(path.split(".")) if path else (), decimals, web)


CATALOGUE: dict[str, Metric] = {
    m.key: m
    for m in (
        _m("requests", "Requests", "count", "requests", 0, "requests"),
        _m("failures", "Failures", "count", "failures", 0, "failures"),
        _m("cancelled", "Cancelled", "count", "cancelled", 0, "cancelled"),
        _m("error_rate", "Error %", "share", "error_rate", 2, "error_pct"),
        _m("requests_per_s", "Req/s", "/s", "requests_per_s", 2, "requests_per_s"),
        _m("ttft_p50_ms", "TTFT p50", "ms", "ttft_ms.p50", 1, "ttft_p50"),
        _m("ttft_p90_ms", "TTFT p90", "ms", "ttft_ms.p90", 1, "ttft_p90"),
        _m("ttft_p99_ms", "TTFT p99", "ms", "ttft_ms.p99", 1, "ttft_p99"),
        _m("itl_mean_ms", "ITL mean", "ms", "itl_ms.mean", 2, "itl_mean"),
        _m("itl_p50_ms", "ITL p50", "ms", "itl_ms.p50", 2),
        _m("itl_p99_ms", "ITL p99", "ms", "itl_ms.p99", 2, "itl_p99"),
        _m("tpot_mean_ms", "TPOT mean", "ms", "tpot_ms.mean", 2),
        _m("tpot_p50_ms", "TPOT p50", "ms", "tpot_ms.p50", 2, "tpot_p50"),
        _m("e2e_p50_ms", "E2E p50", "ms", "e2e_ms.p50", 1, "e2e_p50"),
        _m("e2e_p90_ms", "E2E p90", "ms", "e2e_ms.p90", 1),
        _m("e2e_p99_ms", "E2E p99", "ms", "e2e_ms.p99", 1, "e2e_p99"),
        _m(
            "output_tokens_per_s",
            "Output tok/s",
            "tok/s",
            "output_tokens_per_s",
            1,
            "output_tokens_per_s",
        ),
        _m("input_tokens", "Input tokens", "tokens", "input_tokens", 0),
        _m("output_tokens", "Output tokens", "tokens", "output_tokens", 0),
        _m("usage_estimated_share", "Usage estimated %", "share", "", 1, "usage_estimated_pct"),
        _m("tool_calls_expected", "Tool calls graded", "count", "tool_calls.expected", 0),
        _m("tool_calls_correct", "Tool calls correct", "count", "tool_calls.correct", 0),
        _m(
            "tool_accuracy",
            "Tool accuracy %",
            "share",
            "tool_calls.accuracy",
            1,
            "tool_accuracy_pct",
        ),
        _m("goodput_ratio", "Goodput %", "share", "goodput.ratio", 1, "goodput_pct"),
        _m("goodput_requests_per_s", "Goodput req/s", "/s", "goodput.requests_per_s", 2),
    )
}

# The CSV's columns after `model`: a public format, extend at the end only.
CSV_COLUMNS = (
    "requests", "failures", "cancelled", "error_rate", "requests_per_s",
    "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms", "tpot_p50_ms",
    "e2e_p50_ms", "e2e_p99_ms", "output_tokens_per_s", "input_tokens", "output_tokens",
    "usage_estimated_share", "tool_calls_expected", "tool_calls_correct", "tool_accuracy",
    "goodput_ratio", "goodput_requests_per_s",
)  # fmt: skip
REPORT_COLUMNS = (
    "requests", "failures", "error_rate", "requests_per_s",
    "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms", "tpot_p50_ms",
    "e2e_p50_ms", "e2e_p99_ms", "output_tokens_per_s", "usage_estimated_share",
)  # fmt: skip
TOOL_COLUMNS = ("tool_accuracy",)
GOODPUT_COLUMNS = ("goodput_ratio", "goodput_requests_per_s")
WEB_COLUMNS = (
    "requests", "failures", "cancelled", "requests_per_s",
    "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "itl_mean_ms", "itl_p99_ms", "tpot_p50_ms",
    "e2e_p50_ms", "e2e_p99_ms", "output_tokens_per_s",
    "usage_estimated_share", "error_rate", "tool_accuracy", "goodput_ratio",
)  # fmt: skip
# The terminal's compact table: (header, keys shown "a/b/c" in one cell).
CONSOLE_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reqs", ("requests",)),
    ("fail", ("failures",)),
    ("req/s", ("requests_per_s",)),
    ("TTFT", ("ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms")),
    ("ITL", ("itl_mean_ms",)),
    ("TPOT", ("tpot_mean_ms",)),
    ("E2E", ("e2e_p50_ms", "e2e_p90_ms", "e2e_p99_ms")),
    ("out tok/s", ("output_tokens_per_s",)),
)


def _number(found: Any) -> float | None:
    return float(found) if isinstance(found, int | float) and not isinstance(found, bool) else None


def _at(metrics: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    found: Any = metrics
    for part in path:
        found = found.get(part) if isinstance(found, Mapping) else None
    return found


def value(metrics: Mapping[str, Any], key: str) -> float | None:
    """The number `key` of one METRICS object, or None when it has none.

    Tool numbers only count when calls were graded; `error_rate` falls back to failures
    over requests (older summaries); `usage_estimated_share` is estimated over requests."""
    metric = CATALOGUE[key]
    if metric.path[:1] == ("tool_calls",) and not _at(metrics, ("tool_calls", "expected")):
        return None
    if metric.path:
        found = _number(_at(metrics, metric.path))
        if found is not None or key != "error_rate":
            return found
    requests = _number(metrics.get("requests"))
    part = _number(metrics.get("failures" if key == "error_rate" else "usage_estimated"))
    return part / requests if requests and part is not None else None
