"""`llm-load report`: render one run summary, or compare two.

`llm-load report SUMMARY.json [--html OUT] [--csv OUT] [--md [OUT]]` writes the HTML report,
the per-model CSV and the Markdown summary; with no output option it prints the console
table. `llm-load report A.json B.json [...] [--noise 0.05] [--rate-noise 0.01]` compares run
A (before) with run B (after) in the same forms. `--md` without a path (or `-`) prints
Markdown to stdout, e.g. `>> "$GITHUB_STEP_SUMMARY"`. Bad input (a missing file, not JSON,
not an `llm-load/summary/v1` summary, an output path that is one of the inputs) is one
message on stderr and exit 2; otherwise the exit code is 0 (failed thresholds in a summary
are shown, not re-judged).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llm_load.core.metrics.summary import SCHEMA

__all__ = ["SummaryFileError", "add_report_parser", "read_summary", "run_report"]

BAD_INPUT = 2


class SummaryFileError(ValueError):
    """A file that is not a readable `llm-load/summary/v1` summary; the message says why."""


def read_summary(path: str | Path) -> dict[str, Any]:
    """The summary dict in `path`; `SummaryFileError` names the file and the problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SummaryFileError(
            f"{path}: cannot read: {getattr(error, 'strerror', error)}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SummaryFileError(f"{path}: not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise SummaryFileError(
            f'{path}: not an llm-load summary (expected "schema": "{SCHEMA}", got {found!r}); '
            "write one with --llm-json"
        )
    for key in ("totals", "by_model"):
        if not isinstance(data.get(key), dict):
            raise SummaryFileError(f"{path}: {key!r} missing or not an object")
    return data


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `report` subcommand to `llm-load`'s subparsers."""
    parser = subparsers.add_parser(
        "report",
        help="render a summary.json as HTML/CSV/Markdown, or compare two runs",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="one file: the run's report; two files: A (before) compared with B (after). "
        "exit codes: 0 ok, 2 bad input",
    )
    parser.add_argument("summaries", nargs="+", metavar="SUMMARY.json", help="one or two files")
    parser.add_argument("--html", metavar="PATH", help="write a self-contained HTML report")
    parser.add_argument("--csv", metavar="PATH", help="write the per-model table (or diff) as CSV")
    parser.add_argument(
        "--md", nargs="?", const="-", metavar="PATH",
        help="write Markdown to PATH, or to stdout without one (or with -)",
    )  # fmt: skip
    parser.add_argument(
        "--noise", type=float, default=0.05,
        help="comparison: relative change still counted as 'same' (0.05 = 5 %%)",
    )  # fmt: skip
    parser.add_argument(
        "--rate-noise", type=float, default=0.01,
        help="comparison: error rate / tool accuracy change still 'same' (0.01 = 1 point)",
    )  # fmt: skip
    return parser


def _outputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(kind, path) of each requested output; raises on an output that is an input."""
    outs = [(kind, path) for kind in ("html", "csv", "md") if (path := getattr(args, kind))]
    inputs = {Path(p).resolve() for p in args.summaries}
    for kind, path in outs:
        if path != "-" and Path(path).resolve() in inputs:
            raise SummaryFileError(f"--{kind} {path}: that is an input file; not overwriting it")
    return outs


def _renderers(data: Any, compare: bool) -> dict[str, Callable[[], str]]:
    if compare:
        from llm_load.report import diff_render as d

        return {
            "html": lambda: d.render_diff_html(data),
            "csv": lambda: d.render_diff_csv(data),
            "md": lambda: d.render_diff_md(data),
        }
    from llm_load.report.html import render_html
    from llm_load.report.markdown import render_markdown
    from llm_load.report.table_csv import render_csv

    return {
        "html": lambda: render_html(data),
        "csv": lambda: render_csv(data),
        "md": lambda: render_markdown(data),
    }


def _write(outs: list[tuple[str, str]], renderers: dict[str, Callable[[], str]]) -> None:
    for kind, path in outs:
        text = renderers[kind]()
        if path == "-":
            sys.stdout.write(text)
            continue
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="" if kind == "csv" else None)
        print(f"{kind} written to {path}", file=sys.stderr)


def _load(args: argparse.Namespace) -> tuple[Any, bool]:
    """The summary, or the comparison of two; raises `SummaryFileError`."""
    if len(args.summaries) > 2:
        raise SummaryFileError("give one summary to report on, or two to compare")
    summaries = [read_summary(path) for path in args.summaries]
    if len(summaries) == 1:
        return summaries[0], False
    if args.noise < 0 or args.rate_noise < 0:
        raise SummaryFileError("--noise and --rate-noise must be >= 0")
    from llm_load.report.diff import compare

    labels = (args.summaries[0], args.summaries[1])
    diff = compare(*summaries, noise=args.noise, rate_noise=args.rate_noise, labels=labels)
    return diff, True


def run_report(args: argparse.Namespace) -> int:
    """Run `llm-load report`; 0, or 2 with one message on stderr for bad input."""
    try:
        outs = _outputs(args)
        data, compare = _load(args)
        if outs:
            _write(outs, _renderers(data, compare))
        elif compare:
            from llm_load.report.diff_render import print_diff

            print_diff(data)
        else:
            from llm_load.report.console import print_summary

            print_summary(data)
    except SummaryFileError as error:
        return _fail(str(error))
    except OSError as error:
        return _fail(f"cannot write: {error}")
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # a hand-edited file
        return _fail(f"{' '.join(args.summaries)}: malformed summary ({error!r})")
    return 0


def _fail(message: str) -> int:
    print(f"llm-load report: {message}", file=sys.stderr)
    return BAD_INPUT
