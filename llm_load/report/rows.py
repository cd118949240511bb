"""The per-model headline row shared by the CSV, Markdown and HTML reports.

`headline(metrics)` turns one summary `METRICS` object into a flat dict with stable keys
(the CSV columns, documented in `docs/reports.md`); `model_rows` lists the models of a
summary plus the `(all)` totals row. Every field is read leniently: a value missing from an
older summary.json is `None` (an empty cell), never an error. Latencies in ms, rates per
second, shares as fractions 0..1 (`goodput_ratio`: requests that met the run's SLO). The
`fmt_*` helpers give the texts tables display.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "COLUMNS",
    "DISPLAY",
    "TOTAL",
    "display_row",
    "fmt_int",
    "fmt_ms",
    "fmt_num",
    "fmt_pct",
    "has_tools",
    "headline",
    "model_rows",
    "stat",
    "tool_calls",
]

TOTAL = "(all)"
COLUMNS = (
    "model",
    "requests",
    "failures",
    "cancelled",
    "error_rate",
    "requests_per_s",
    "ttft_p50_ms",
    "ttft_p90_ms",
    "ttft_p99_ms",
    "itl_p50_ms",
    "itl_p99_ms",
    "tpot_p50_ms",
    "e2e_p50_ms",
    "e2e_p99_ms",
    "output_tokens_per_s",
    "input_tokens",
    "output_tokens",
    "usage_estimated_share",
    "tool_calls_expected",
    "tool_calls_correct",
    "tool_accuracy",
    "goodput_ratio",
    "goodput_requests_per_s",
)
_STATS = {
    "ttft_p50_ms": ("ttft_ms", "p50"),
    "ttft_p90_ms": ("ttft_ms", "p90"),
    "ttft_p99_ms": ("ttft_ms", "p99"),
    "itl_p50_ms": ("itl_ms", "p50"),
    "itl_p99_ms": ("itl_ms", "p99"),
    "tpot_p50_ms": ("tpot_ms", "p50"),
    "e2e_p50_ms": ("e2e_ms", "p50"),
    "e2e_p99_ms": ("e2e_ms", "p99"),
}
_SCALARS: tuple[str, ...] = (
    "requests",
    "failures",
    "cancelled",
    "requests_per_s",
    "output_tokens_per_s",
)
_SCALARS += ("input_tokens", "output_tokens")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def stat(metrics: dict[str, Any], dist: str, name: str) -> float | None:
    """`metrics[dist][name]` (e.g. `ttft_ms`, `p99`), or None when absent."""
    found = metrics.get(dist)
    return _number(found.get(name)) if isinstance(found, dict) else None


def tool_calls(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The `tool_calls` object when the run graded tool calls, else None."""
    found = metrics.get("tool_calls")
    return found if isinstance(found, dict) and found.get("expected") else None


def _error_rate(m: dict[str, Any]) -> float | None:
    if (rate := _number(m.get("error_rate"))) is not None:
        return rate
    requests, failures = _number(m.get("requests")), _number(m.get("failures"))
    return failures / requests if requests and failures is not None else None


def headline(metrics: dict[str, Any]) -> dict[str, float | None]:
    """The numeric columns of one row (every key of `COLUMNS` except `model`)."""
    row: dict[str, float | None] = {name: _number(metrics.get(name)) for name in _SCALARS}
    row["error_rate"] = _error_rate(metrics)
    row.update({key: stat(metrics, *where) for key, where in _STATS.items()})
    requests, estimated = row["requests"], _number(metrics.get("usage_estimated"))
    row["usage_estimated_share"] = (
        estimated / requests if requests and estimated is not None else None
    )
    tools = tool_calls(metrics) or {}
    row["tool_calls_expected"] = _number(tools.get("expected"))
    row["tool_calls_correct"] = _number(tools.get("correct"))
    row["tool_accuracy"] = _number(tools.get("accuracy"))
    row["goodput_ratio"] = stat(metrics, "goodput", "ratio")
    row["goodput_requests_per_s"] = stat(metrics, "goodput", "requests_per_s")
    return row


def model_rows(summary: dict[str, Any], *, always_total: bool = True) -> list[tuple[str, dict]]:
    """(name, METRICS) per model, then (`(all)`, totals); the totals row only when there
    are several models unless `always_total`."""
    rows = [(str(name), m) for name, m in (summary.get("by_model") or {}).items()]
    if always_total or len(rows) != 1:
        rows.append((TOTAL, summary.get("totals") or {}))
    return rows


def has_tools(summary: dict[str, Any]) -> bool:
    return any(tool_calls(m) for _, m in model_rows(summary))


# -- display --------------------------------------------------------------------------------
def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_pct(value: float | None) -> str:
    """A 0..1 share as a percentage with enough digits to tell 0 from almost 0."""
    if value is None:
        return "-"
    pct = value * 100
    return f"{pct:.0f}" if pct == 0 or pct >= 10 else f"{pct:.2g}"


Formatter = Callable[[float | None], str]
# (column key, header, formatter); tool accuracy is appended by `display_row` when present.
DISPLAY: tuple[tuple[str, str, Formatter], ...] = (
    ("requests", "Requests", fmt_int),
    ("failures", "Failures", fmt_int),
    ("error_rate", "Error %", fmt_pct),
    ("requests_per_s", "Req/s", lambda v: fmt_num(v, 2)),
    ("ttft_p50_ms", "TTFT p50", fmt_ms),
    ("ttft_p90_ms", "TTFT p90", fmt_ms),
    ("ttft_p99_ms", "TTFT p99", fmt_ms),
    ("itl_p50_ms", "ITL p50", fmt_ms),
    ("itl_p99_ms", "ITL p99", fmt_ms),
    ("tpot_p50_ms", "TPOT p50", fmt_ms),
    ("e2e_p50_ms", "E2E p50", fmt_ms),
    ("e2e_p99_ms", "E2E p99", fmt_ms),
    ("output_tokens_per_s", "Output tok/s", fmt_num),
    ("usage_estimated_share", "Usage estimated %", fmt_pct),
)
TOOL_COLUMN = ("tool_accuracy", "Tool accuracy %", fmt_pct)
# Appended by `display_row` when the run had an SLO (every METRICS object has `goodput`).
GOODPUT_COLUMNS: tuple[tuple[str, str, Formatter], ...] = (
    ("goodput_ratio", "Goodput %", fmt_pct),
    ("goodput_requests_per_s", "Goodput req/s", lambda v: fmt_num(v, 2)),
)


def display_row(
    metrics: dict[str, Any], *, tools: bool
) -> tuple[list[str], list[str]]:  # (headers, cells)
    """Headers and display texts of one model's headline (latencies in ms)."""
    row = headline(metrics)
    columns = (*DISPLAY, TOOL_COLUMN) if tools else DISPLAY
    if isinstance(metrics.get("goodput"), dict):
        columns = (*columns, *GOODPUT_COLUMNS)
    return [header for _, header, _ in columns], [fmt(row[key]) for key, _, fmt in columns]
