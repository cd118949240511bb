"""A two-run comparison (`llm_load.report.diff.compare`) for people: console, Markdown,
HTML and CSV.

Every form shows, per model and for `(all)`, each metric's value in run A and run B, the
change (relative in %, or in percentage points for error rate and tool accuracy) and the
verdict. The console table is rich, 100 columns wide, coloured only on a terminal.
"""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Any

from rich.console import Console
from rich.table import Table

from llm_load.report.html import badge, html_page, html_table
from llm_load.report.markdown import md_cell, md_table
from llm_load.report.rows import fmt_ms, fmt_num, fmt_pct

__all__ = ["diff_table", "print_diff", "render_diff_csv", "render_diff_html", "render_diff_md"]

STYLES = {"better": "green", "worse": "bold red", "same": "", "n/a": "dim"}
HEADERS = ["Model", "Metric", "A", "B", "Change", "Verdict"]


def fmt_value(row: dict[str, Any], value: float | None) -> str:
    if value is None:
        return "-"
    if row["points"]:
        return fmt_pct(value) + " %"
    return fmt_ms(value) if row["unit"] == "ms" else fmt_num(value, 2)


def fmt_change(row: dict[str, Any]) -> str:
    if row["delta"] is None:
        return "-"
    if row["points"]:
        return f"{row['delta'] * 100:+.2f} pt"
    if row["delta_pct"] is None:
        return "new" if row["delta"] > 0 else "-"
    return f"{row['delta_pct']:+.1f} %"


def _cells(diff: dict[str, Any]) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(model, row, [model, metric, A, B, change]) in display order."""
    return [
        (group["model"], row, [group["model"], row["label"], fmt_value(row, row["a"]),
                               fmt_value(row, row["b"]), fmt_change(row)])
        for group in diff["models"]
        for row in group["rows"]
    ]  # fmt: skip


def _about(diff: dict[str, Any], side: str) -> str:
    about = diff[side]
    bits = [f"{side.upper()}: {about['label']}", f"started {about['started_at']}"]
    bits.append(f"{about['duration_s'] or 0:.1f} s")
    if about.get("scenario"):
        bits.append(f"scenario {about['scenario']}")
    return ", ".join(bits) + f", target {about['target']}, {about['requests'] or 0:,} requests"


def _footer(diff: dict[str, Any]) -> list[str]:
    counts = diff["verdicts"]
    lines = [
        f"{counts['better']} better, {counts['worse']} worse, {counts['same']} same "
        f"(noise band ±{diff['noise'] * 100:g} %; error rate and tool accuracy "
        f"±{diff['rate_noise'] * 100:g} percentage points)"
    ]
    for side in ("a", "b"):
        if only := diff[f"only_in_{side}"]:
            lines.append(f"only in {side.upper()} (not compared): {', '.join(only)}")
    return lines


def diff_table(diff: dict[str, Any]) -> Table:
    table = Table(title="llm-load comparison: A → B", title_justify="left")
    for header in HEADERS:
        table.add_column(header, justify="right" if header in ("A", "B", "Change") else "left")
    previous = None
    for model, row, cells in _cells(diff):
        if previous is not None and model != previous:
            table.add_section()
        if model == previous:
            cells[0] = ""  # the model once per section
        previous = model
        verdict = row["verdict"]
        table.add_row(*cells, f"[{STYLES[verdict]}]{verdict}[/]" if STYLES[verdict] else verdict)
    return table


def print_diff(diff: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=100, highlight=False)
    for side in ("a", "b"):
        console.print(_about(diff, side), markup=False, soft_wrap=True)
    console.print(diff_table(diff))
    for line in _footer(diff):
        console.print(line, markup=False, soft_wrap=True)


def render_diff_md(diff: dict[str, Any]) -> str:
    rows = [[*cells, row["verdict"]] for _, row, cells in _cells(diff)]
    about = "\n".join(f"- {md_cell(_about(diff, side))}" for side in ("a", "b"))
    table = md_table(HEADERS, rows, left=(0, 1, 5))
    footer = "\n".join(md_cell(line) for line in _footer(diff))
    return f"### llm-load comparison: A → B\n\n{about}\n\n{table}\n\n{footer}\n"


def render_diff_html(diff: dict[str, Any]) -> str:
    rows = [[*cells, badge(row["verdict"], row["verdict"].replace("/", ""))]
            for _, row, cells in _cells(diff)]  # fmt: skip
    about = "".join(f"<li>{escape(_about(diff, side))}</li>" for side in ("a", "b"))
    footer = "".join(f"<p>{escape(line)}</p>" for line in _footer(diff))
    body = (
        f"<h1>llm-load comparison: A → B</h1>\n<ul>{about}</ul>\n"
        f"{html_table(HEADERS, rows, text=(1,))}\n{footer}"
    )
    return html_page("llm-load comparison", body)


def render_diff_csv(diff: dict[str, Any]) -> str:
    """model, metric, unit, a, b, delta, delta_pct, verdict; shares as 0..1 fractions."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["model", "metric", "unit", "a", "b", "delta", "delta_pct", "verdict"])
    for group in diff["models"]:
        for row in group["rows"]:
            values = [row[k] for k in ("a", "b", "delta", "delta_pct")]
            cells = ["" if v is None else f"{v:.10g}" for v in values]
            unit = "share" if row["points"] else row["unit"]
            writer.writerow([group["model"], row["metric"], unit, *cells, row["verdict"]])
    return out.getvalue()
