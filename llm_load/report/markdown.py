"""The run summary as GitHub-flavoured Markdown: `render_markdown(summary) -> str`.

Short enough for a PR comment or `$GITHUB_STEP_SUMMARY`: a one-line header (target,
duration, threshold verdict), the per-model table (the `(all)` row when several models;
goodput columns and the SLO when the run had one), then errors with the server's messages,
tool-call accuracy and thresholds when there are any. Latencies in ms. Cell texts are
escaped for tables (`|`, newlines, backticks kept literal), so a server's error message
cannot break the layout.
"""

from __future__ import annotations

from typing import Any

from llm_load.core.metrics.slo import describe_slo
from llm_load.report.charts import saturation_note
from llm_load.report.rows import display_row, fmt_int, fmt_pct, has_tools, model_rows, tool_calls

__all__ = ["md_cell", "md_table", "render_markdown"]

MAX_EXAMPLE = 200


def md_cell(value: object) -> str:
    """Text safe inside a Markdown table cell."""
    text = " ".join(str(value).split())
    for char in ("\\", "|", "`", "*", "_", "<", ">", "[", "]"):
        text = text.replace(char, "\\" + char)
    return text or " "


def md_table(headers: list[str], rows: list[list[str]], *, left: tuple[int, ...] = (0,)) -> str:
    """A GFM table; the columns whose index is in `left` are left-aligned, others right."""
    align = [":--" if i in left else "--:" for i in range(len(headers))]
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _header(summary: dict[str, Any]) -> str:
    settings = summary.get("settings") or {}
    parts = [f"target `{md_cell(summary.get('target', '?'))}`"]
    if settings.get("scenario"):
        parts.append(f"scenario `{md_cell(settings['scenario'])}`")
    parts.append(f"{summary.get('duration_s') or 0:.1f} s from {summary.get('started_at', '?')}")
    if summary.get("thresholds"):
        parts.append("thresholds **passed**" if summary.get("passed") else "thresholds **FAILED**")
    if summary.get("interrupted"):
        parts.append("**interrupted**")
    if summary.get("workers_lost"):
        parts.append(f"workers lost: {summary['workers_lost']}")
    return "### llm-load run summary\n\n" + ", ".join(parts)


def _models(summary: dict[str, Any]) -> str:
    tools = has_tools(summary)
    headers, rows = ["Model"], []
    for name, metrics in model_rows(summary, always_total=False):
        headers[1:], cells = display_row(metrics, tools=tools)
        rows.append([name, *cells])
    note = "Latencies in ms."
    goodput = (summary.get("totals") or {}).get("goodput")
    if isinstance(goodput, dict):
        note += f" Goodput: the requests that met {describe_slo(goodput.get('slo') or {})}."
    return md_table(headers, rows) + "\n\n" + note


def _errors(summary: dict[str, Any]) -> str:
    def example(text: object) -> str:
        text = str(text)
        return text if len(text) <= MAX_EXAMPLE else text[: MAX_EXAMPLE - 1] + "…"

    rows = [
        [str(e.get("kind")), fmt_int(e.get("count")), example(e.get("example", ""))]
        for e in summary.get("errors") or []
    ]
    return "#### Errors\n\n" + md_table(["Kind", "Count", "Example"], rows, left=(0, 2))


def _tools(summary: dict[str, Any]) -> str:
    graded = [(n, t) for n, m in model_rows(summary, always_total=False) if (t := tool_calls(m))]
    rows = []
    for name, t in graded:
        wrong = ", ".join(f"{k} {v}" for k, v in sorted((t.get("by_error") or {}).items()))
        rows.append([name, fmt_int(t.get("expected")), fmt_int(t.get("correct")),
                     fmt_pct(t.get("accuracy")), wrong or "-"])  # fmt: skip
    headers = ["Model", "Graded", "Correct", "Accuracy %", "Wrong, by kind"]
    return "#### Tool-call accuracy\n\n" + md_table(headers, rows, left=(0, 4))


def _thresholds(summary: dict[str, Any]) -> str:
    rows = [
        [str(t.get("check")), "no data" if t.get("value") is None else f"{t['value']:.4g}",
         "PASS" if t.get("ok") else "FAIL"]
        for t in summary.get("thresholds") or []
    ]  # fmt: skip
    return "#### Thresholds\n\n" + md_table(["Check", "Observed", "Result"], rows, left=(0, 2))


def render_markdown(summary: dict[str, Any]) -> str:
    """The Markdown report of one summary, ending with a newline."""
    parts = [_header(summary), _models(summary)]
    if note := saturation_note(summary):
        parts.append(note)
    if summary.get("errors"):
        parts.append(_errors(summary))
    if has_tools(summary):
        parts.append(_tools(summary))
    if summary.get("thresholds"):
        parts.append(_thresholds(summary))
    return "\n\n".join(parts) + "\n"
