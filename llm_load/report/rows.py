"""The per-model headline row shared by the CSV, Markdown and HTML reports.

`headline(metrics)` turns one summary `METRICS` object into a flat dict with stable keys
(the CSV columns, documented in `docs/reports.md`); `model_rows` lists the models of a
summary plus the `(all)` totals row. Which numbers, where a summary holds them, their
titles and units: the metric catalogue (`llm_load.core.metrics.catalogue`). Every field is
read leniently: a value missing from an older summary.json is `None` (an empty cell), never
an error. Latencies in ms, rates per second, shares as fractions 0..1 (`goodput_ratio`:
requests that met the run's SLO). `formatter` and the `fmt_*` helpers give the texts tables
display.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from llm_load.core.metrics.catalogue import (
    ALL_MODELS,
    CATALOGUE,
    CSV_COLUMNS,
    GOODPUT_COLUMNS,
    REPORT_COLUMNS,
    TOOL_COLUMNS,
    value,
)

__all__ = [
    "COLUMNS",
    "TOTAL",
    "display_row",
    "fmt_int",
    "fmt_ms",
    "fmt_num",
    "fmt_pct",
    "formatter",
    "has_tools",
    "headline",
    "model_rows",
    "stat",
    "tool_calls",
]

TOTAL = ALL_MODELS
COLUMNS = ("model", *CSV_COLUMNS)


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


def headline(metrics: dict[str, Any]) -> dict[str, float | None]:
    """The numeric columns of one row (every key of `COLUMNS` except `model`)."""
    return {key: value(metrics, key) for key in CSV_COLUMNS}


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
_BY_UNIT: dict[str, Formatter] = {
    "ms": fmt_ms,
    "share": fmt_pct,
    "count": fmt_int,
    "tokens": fmt_int,
}


def formatter(key: str) -> Formatter:
    """How tables display the catalogue's metric `key` (rates with its decimals)."""
    metric = CATALOGUE[key]
    return _BY_UNIT.get(metric.unit) or partial(fmt_num, digits=metric.decimals)


def display_row(
    metrics: dict[str, Any], *, tools: bool
) -> tuple[list[str], list[str]]:  # (headers, cells)
    """Headers and display texts of one model's headline (latencies in ms); tool accuracy
    when `tools`, goodput when the run had an SLO (every METRICS object has `goodput`)."""
    keys = (*REPORT_COLUMNS, *TOOL_COLUMNS) if tools else REPORT_COLUMNS
    if isinstance(metrics.get("goodput"), dict):
        keys = (*keys, *GOODPUT_COLUMNS)
    return [CATALOGUE[k].title for k in keys], [formatter(k)(value(metrics, k)) for k in keys]
