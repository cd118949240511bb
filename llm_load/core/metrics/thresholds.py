"""Pass/fail thresholds on a run summary, e.g. `ttft_ms.p99 < 500` or `error_rate <= 0.01`.

Grammar: `METRIC[.STAT][@MODEL] OP NUMBER` with OP one of `< <= > >= == !=`. METRIC is a
key of a summary `METRICS` object (`error_rate`, `output_tokens_per_s`, `requests`, ...)
or a distribution (`ttft_ms`, `itl_ms`, `tpot_ms`, `e2e_ms`, `request_output_tokens_per_s`)
followed by a STAT (`p50 p90 p95 p99 mean max count`); tool traffic adds `tool_accuracy`,
the tool-call distributions and `tool_errors.BUCKET` (graded calls in one error bucket, e.g.
`tool_errors.unknown_function == 0`); a run with an SLO adds `goodput` with a STAT of `ratio
requests_per_s output_tokens_per_s good` (bare `goodput` is the ratio: `goodput >= 0.95`).
Without `@MODEL` the check is on the totals over all models. `workers_lost` (workers that
stopped sending heartbeats; 0 on a local run) is a number of the whole run and takes no
`@MODEL`. A metric with no data (e.g. no TTFT at all, no graded tool call, goodput without an
SLO) fails its check.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llm_load.core.metrics.summary_types import Summary, ThresholdResult
from llm_load.core.tools.grading import PRECEDENCE

__all__ = ["Threshold", "ThresholdError", "evaluate", "parse_threshold"]

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
DISTRIBUTIONS = (
    "ttft_ms",
    "itl_ms",
    "tpot_ms",
    "e2e_ms",
    "request_output_tokens_per_s",
    "tool_first_call_ms",
    "tool_call_ms",
    "tool_args_tokens_per_s",
    "task_ms",
    "server_ttft_ms",
    "server_queue_ms",
    "outside_ms",
    "ttfo_ms",  # reasoning traffic
    "ttft_cache_hit_ms",  # servers that report cached tokens
    "ttft_cache_miss_ms",
)
STATS = ("p50", "p90", "p95", "p99", "mean", "max", "count")
GOODPUT_STATS = ("ratio", "requests_per_s", "output_tokens_per_s", "good")
SCALARS = (
    "requests",
    "failures",
    "cancelled",
    "requests_per_s",
    "input_tokens",
    "output_tokens",
    "output_tokens_per_s",
    "usage_reported",
    "usage_estimated",
    "error_rate",
    "tool_accuracy",
    "cached_tokens",
)
RUN_SCALARS = ("workers_lost",)  # top-level numbers of summary.json, not per model
TOOL_ERRORS = "tool_errors"  # .BUCKET: a count from tool_calls.by_error
_EXPR = re.compile(
    r"^\s*(?P<metric>[a-z][a-z0-9_]*)(?:\.(?P<stat>[a-z0-9_]+))?(?:@(?P<model>\S+))?"
    r"\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


class ThresholdError(ValueError):
    """A threshold expression that cannot be understood."""


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed check; `text` is the expression as the user wrote it."""

    text: str
    metric: str
    stat: str | None
    model: str | None
    op: str
    value: float

    def observed(self, summary: Summary) -> float | None:
        """The summary's value for this check (None when there is no data)."""
        if self.metric in RUN_SCALARS:
            found: Any = summary.get(self.metric)
        else:
            scope = summary["totals"] if self.model is None else summary["by_model"].get(self.model)
            if scope is None:
                return None
            if self.metric == TOOL_ERRORS:
                tools = scope.get("tool_calls")
                return float(tools["by_error"].get(self.stat or "", 0)) if tools else None
            found = scope.get(self.metric)
        if self.stat is not None:
            found = found.get(self.stat) if isinstance(found, dict) else None
        return None if found is None else float(found)

    def check(self, summary: Summary) -> ThresholdResult:
        value = self.observed(summary)
        ok = value is not None and OPS[self.op](value, self.value)
        return {"check": self.text, "value": value, "ok": ok}


def parse_threshold(text: str) -> Threshold:
    """Parse one expression; `ThresholdError` says what was expected."""
    match = _EXPR.match(text)
    if not match:
        raise ThresholdError(
            f"threshold {text!r}: expected 'METRIC[.STAT][@MODEL] OP NUMBER', "
            "e.g. 'ttft_ms.p99 < 500' or 'error_rate <= 0.01'"
        )
    metric, stat = match["metric"], match["stat"]
    if metric == "goodput" and stat is None:
        stat = "ratio"  # `goodput >= 0.95`: the share of requests that met the SLO
    if metric in DISTRIBUTIONS or metric == "goodput":
        stats = GOODPUT_STATS if metric == "goodput" else STATS
        if stat not in stats:
            raise ThresholdError(f"threshold {text!r}: {metric} needs one of .{', .'.join(stats)}")
    elif metric == TOOL_ERRORS:
        if stat not in PRECEDENCE:
            raise ThresholdError(
                f"threshold {text!r}: {metric} needs one of .{', .'.join(PRECEDENCE)}"
            )
    elif metric in SCALARS or metric in RUN_SCALARS:
        if stat is not None:
            raise ThresholdError(f"threshold {text!r}: {metric} takes no .{stat}")
        if metric in RUN_SCALARS and match["model"]:
            raise ThresholdError(f"threshold {text!r}: {metric} is for the whole run, not @MODEL")
    else:
        known = ", ".join((*DISTRIBUTIONS, "goodput", TOOL_ERRORS, *SCALARS, *RUN_SCALARS))
        raise ThresholdError(f"threshold {text!r}: unknown metric {metric!r}; known: {known}")
    return Threshold(text.strip(), metric, stat, match["model"], match["op"], float(match["value"]))


def evaluate(thresholds: list[Threshold], summary: Summary) -> Summary:
    """Fill `thresholds` and `passed` of `summary` (in place) and return it."""
    results = [t.check(summary) for t in thresholds]
    summary["thresholds"] = results
    summary["passed"] = all(r["ok"] for r in results)
    return summary
