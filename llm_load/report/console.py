"""The end-of-run LLM table for the terminal, rendered with rich from a summary dict.

Readable in 100 columns; plain text (no colour codes) when stdout is not a terminal, as
in CI logs. Latencies in ms, rates per second. With an SLO, a goodput line follows the
table; multi-turn conversations add one line per turn (prompt and cached tokens, TTFT).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from llm_load.core.metrics.catalogue import CONSOLE_COLUMNS, value
from llm_load.core.metrics.slo import describe_slo
from llm_load.report.rows import fmt_ms, formatter, model_rows
from llm_load.report.server import server_lines

__all__ = ["print_summary", "print_thresholds", "print_tool_calls", "summary_table"]

WIDTH = 100


def summary_table(summary: dict[str, Any]) -> Table:
    """One row per model plus a total row when there are several models; the columns are
    the metric catalogue's `CONSOLE_COLUMNS`."""
    table = Table(
        title=f"LLM summary  ({summary['duration_s']:.1f} s, {summary['target']})",
        caption="latencies in ms: p50 / p90 / p99;  ITL and TPOT means in ms",
        title_justify="left",
    )
    table.add_column("model", overflow="fold")  # long model ids fold; numbers never wrap
    for header, _ in CONSOLE_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for name, metrics in model_rows(summary, always_total=False):
        cells = [
            "/".join(formatter(key)(value(metrics, key)) for key in keys)  # fits 100 columns
            for _, keys in CONSOLE_COLUMNS
        ]
        table.add_row(name, *cells)
    return table


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print the table, token accounting and errors with the server's own messages."""
    console = console or Console(width=WIDTH, highlight=False)
    console.print(summary_table(summary))
    totals = summary["totals"]
    for line in _goodput_lines(summary):
        console.print(line, markup=False)
    console.print(
        f"tokens: {totals['input_tokens']:,} in, {totals['output_tokens']:,} out; usage reported "
        f"for {totals['usage_reported']:,} requests, estimated for {totals['usage_estimated']:,}"
    )
    console.print(f"cancelled at stop (not failures): {totals['cancelled']:,}")
    if summary.get("interrupted"):
        console.print("interrupted (Ctrl-C / SIGTERM): the numbers cover the run until then")
    print_tool_calls(summary, console)
    for line in turn_lines(summary):
        console.print(line, markup=False)
    for line in server_lines(summary):  # server-metrics hook
        console.print(line, markup=False)
    if summary.get("workers_lost"):
        lost = summary["workers_lost"]
        console.print(f"workers lost during the run: {lost} (counted up to their last report)")
    for error in summary["errors"]:
        console.print(f"error {error['kind']} x{error['count']}: {error['example']}", markup=False)
    if summary["thresholds"]:
        print_thresholds(summary, console)


def _goodput_lines(summary: dict[str, Any]) -> list[str]:
    """The goodput of the run (and of each model when there are several); [] without SLO."""
    goodput = summary["totals"].get("goodput")
    if not goodput:
        return []
    head = f"goodput: {_share(goodput)} of requests met"
    slo = describe_slo(goodput["slo"], "<=")
    rates = f"{goodput['requests_per_s']:,.2f} req/s, {goodput['output_tokens_per_s']:,.1f} tok/s"
    lines = [f"{head} {slo}; {rates}"]
    if len(lines[0]) > WIDTH:  # many limits: the SLO on a line of its own
        lines = [f"{head} the SLO; {rates}", f"  SLO: {slo}"]
    models = summary["by_model"]
    if len(models) > 1:
        parts = [f"{name} {_share(m['goodput'])}" for name, m in models.items() if "goodput" in m]
        lines.append("goodput by model: " + ", ".join(parts))
    return lines


def turn_lines(summary: dict[str, Any]) -> list[str]:
    """One line per conversation turn (summary's `by_turn`); [] without multi-turn."""
    lines = []
    for turn, t in summary.get("by_turn", {}).items():
        cached = t.get("cached_tokens_mean")
        cache = f" ({cached:,.0f} cached)" if cached is not None else ""
        ttft = t["ttft_ms"]
        lines.append(
            f"turn {turn}: {t['requests']:,} requests, prompt {t['input_tokens_mean']:,.0f} "
            f"tokens{cache}, TTFT p50/p99 {fmt_ms(ttft.get('p50'))}/{fmt_ms(ttft.get('p99'))} ms"
        )
    return lines


def _share(goodput: dict[str, Any]) -> str:
    ratio = goodput.get("ratio")
    return "-" if ratio is None else f"{ratio:.1%}"


def print_tool_calls(summary: dict[str, Any], console: Console) -> None:
    """Tool-call accuracy per model (graded calls only) and the time to a complete call."""
    for name, m in summary["by_model"].items():
        tools = m.get("tool_calls")
        if not tools:
            continue
        errors = ", ".join(f"{k} {v}" for k, v in tools["by_error"].items()) or "none"
        call = m.get("tool_call_ms") or {}
        console.print(
            f"tool calls {name}: {tools['correct']:,}/{tools['expected']:,} correct "
            f"({tools['accuracy']:.1%}); wrong: {errors}; complete call "
            f"p50/p99 {fmt_ms(call.get('p50'))}/{fmt_ms(call.get('p99'))} ms",
            markup=False,
        )


def print_thresholds(summary: dict[str, Any], console: Console) -> None:
    """One line per check and a PASS/FAIL verdict."""
    for result in summary["thresholds"]:
        value = "no data" if result["value"] is None else f"{result['value']:.4g}"
        mark = "PASS" if result["ok"] else "FAIL"
        console.print(f"  {mark}  {result['check']}  (observed {value})", markup=False)
    verdict = "PASSED" if summary["passed"] else "FAILED"
    console.print(f"thresholds {verdict}", style="bold green" if summary["passed"] else "bold red")
