"""Terminal rendering of `llm-load doctor` and `llm-load models` results (plain dicts).

One line per step, `✓` ok, `!` warning, `✗` failure, `·` not checked, followed by indented
`↳` hints; never wrapped, coloured only on a terminal. ASCII symbols replace the marks when
stdout cannot encode them. The models table is a rich `Table`.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = [
    "doctor_header",
    "models_table",
    "print_doctor_header",
    "print_models",
    "print_step",
    "print_verdict",
    "step_lines",
]

SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "·"}
ASCII_SYMBOLS = {"ok": "OK", "warn": "!!", "fail": "XX", "skip": "--"}
STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
NAME_WIDTH = 8


def _symbols() -> dict[str, str]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "".join(SYMBOLS.values()).encode(encoding) + "↳“”…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ASCII_SYMBOLS
    return SYMBOLS


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def doctor_header(header: dict[str, Any]) -> str:
    """`llm-load doctor: URL (API key sk-…abcd from OPENAI_API_KEY)`."""
    key = header["api_key"]
    shown = f"API key {key['shown']} from {key['source']}"
    shown = "no API key" if key["source"] == "none" else shown
    return f"llm-load doctor: {header['target']} ({shown})"


def step_lines(step: dict[str, Any]) -> list[str]:
    """The step's line and its hint lines."""
    mark = _symbols()[step["level"]]
    arrow = "↳" if mark == SYMBOLS[step["level"]] else "->"
    lines = [f"{mark} {step['name']:<{NAME_WIDTH}} {step['message']}"]
    lines += [f"{' ' * (NAME_WIDTH + 3)}{arrow} {hint}" for hint in step.get("hints", [])]
    return lines


def print_doctor_header(header: dict[str, Any], console: Console | None = None) -> None:
    """Print the line naming what is examined."""
    (console or _console()).print(doctor_header(header), markup=False, style="bold")


def print_step(step: dict[str, Any], console: Console | None = None) -> None:
    """Print one step (as it completes)."""
    console = console or _console()
    first, *hints = step_lines(step)
    console.print(first, markup=False, style=STYLES[step["level"]])
    for hint in hints:
        console.print(hint, markup=False, style="dim")


def print_verdict(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the one-line verdict (after the server-metrics line, when probed)."""
    metrics = result.get("server_metrics")  # server-metrics hook
    if metrics:
        (console or _console()).print(f"· server metrics: {metrics['message']}", markup=False)
    mark = _symbols()["ok" if result["ok"] else "fail"]
    style = STYLES["ok" if result["ok"] else "fail"]
    (console or _console()).print(f"{mark} verdict: {result['verdict']}", markup=False, style=style)


def models_table(result: dict[str, Any]) -> Table:
    """Served models: id, owned_by and context length (with the field it came from)."""
    table = Table(title=f"models at {result['base_url']}", title_justify="left")
    table.add_column("id", overflow="fold")
    table.add_column("owned_by")
    table.add_column("max_model_len", justify="right")
    for row in result["models"]:
        length = row["max_model_len"]
        source = row["max_model_len_from"]
        shown = "" if length is None else f"{length}"
        if source and source != "max_model_len":
            shown += f" ({source})"
        table.add_row(row["id"], row["owned_by"] or "", shown)
    return table


def print_models(result: dict[str, Any], console: Console | None = None) -> None:
    """The table, or the failing steps (with hints) when the listing failed."""
    console = console or _console()
    if result["exit_code"] == 0:
        console.print(models_table(result))
        return
    for step in result["steps"]:
        if step["level"] == "fail":
            print_step(step, console)
