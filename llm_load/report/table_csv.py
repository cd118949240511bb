"""The per-model table as CSV: `render_csv(summary) -> str`.

One header row with the stable column names of `llm_load.report.rows.COLUMNS` (documented
in `docs/reports.md`), one row per model, then the `(all)` totals row. Numbers have up to
10 significant digits, a `.` decimal point and no thousands separators; a value
the summary does not have (e.g. TTFT of non-streaming runs, tool accuracy without tool
traffic) is an empty cell. Latencies in ms, rates per second, shares 0..1.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from llm_load.report.rows import COLUMNS, headline, model_rows

__all__ = ["render_csv"]


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.10g}"


def render_csv(summary: dict[str, Any]) -> str:
    """The CSV text (header + one row per model + `(all)`), `\\r\\n` line ends as RFC 4180."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for name, metrics in model_rows(summary, always_total=True):
        row = headline(metrics)
        writer.writerow([name, *(_cell(row[key]) for key in COLUMNS[1:])])
    return out.getvalue()
