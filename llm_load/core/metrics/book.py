"""Exact, mergeable LLM metrics: per-model books of counters and histograms, and errors.

A `MetricsBook` is fed `RequestRecord`s. Every part merges exactly (counters add,
histograms add bucket counts), so books kept by Locust workers and merged on the master
equal one book fed every record. `to_dict`/`from_dict` give the plain-dict wire format.

What feeds what: TTFT and ITL come from every call that saw tokens (a failed or cancelled
call's first token was still measured); E2E, TPOT and per-request tokens/s only from
successful calls; token counts from every call. Cancelled calls (cut off because the test
stopped) are counted apart and never as failures. Tool-call grades come from every graded
call (a successful call of a tool case): `tool_expected` of them, `tool_correct` right,
the rest counted by grade in `tool_errors` — an HTTP failure is never graded. With an
`SLO` set on the book, successful calls that meet it count as `good` (and their output
tokens as `good_output_tokens`): the summary's `goodput`. The book also keeps a
per-interval `TimeSeries` of the same records.
Responses carrying the server's own timings also feed `server_ttft_ms`, `server_queue_ms`
and `outside_ms` (like TTFT: from every call). Calls of multi-turn conversations also feed
`by_turn` (`core.metrics.turns`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from llm_load.core.metrics.histogram import LogHistogram
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.slo import SLO
from llm_load.core.metrics.summary_types import ErrorEntry, Metrics
from llm_load.core.metrics.timeseries import TimeSeries
from llm_load.core.metrics.turns import (
    TurnMetrics,
    add_turn,
    merge_turns,
    turns_from_dict,
    turns_to_dict,
)
from llm_load.core.scenario.arrivals import ArrivalStats

__all__ = ["HISTOGRAMS", "TOOL_HISTOGRAMS", "ErrorStat", "MetricsBook", "ModelMetrics"]

# Tool-call timings and whole tool-loop tasks: only in summaries of tool traffic.
TOOL_HISTOGRAMS = ("tool_first_call_ms", "tool_call_ms", "tool_args_tokens_per_s", "task_ms")
# The server's own per-request timings: only in summaries of servers that send them.
SERVER_HISTOGRAMS = ("server_ttft_ms", "server_queue_ms", "outside_ms")
# TTFT of requests the server served partly from its prefix cache (hit) or not (miss).
# TTFO: the first answer token after reasoning (shown when any request reasoned).
NEWER_HISTOGRAMS = ("ttft_cache_hit_ms", "ttft_cache_miss_ms", "ttfo_ms")
OPTIONAL_HISTOGRAMS = (*TOOL_HISTOGRAMS, *SERVER_HISTOGRAMS, *NEWER_HISTOGRAMS)
HISTOGRAMS = (
    "ttft_ms",
    "itl_ms",
    "tpot_ms",
    "e2e_ms",
    "request_output_tokens_per_s",
    *TOOL_HISTOGRAMS,
    *SERVER_HISTOGRAMS,
    *NEWER_HISTOGRAMS,
)
SUMMARY_COUNTERS = (
    "requests",
    "failures",
    "cancelled",
    "input_tokens",
    "output_tokens",
    "usage_reported",
    "usage_estimated",
    "connection_retries",
)
# Tools: in `tool_calls`; requests meeting the SLO: in `goodput`; requested vs reported
# prompt tokens: in `input_tokens_drift` (these two groups are absent from older dicts).
GOODPUT_COUNTERS = ("good", "good_output_tokens")
DRIFT_COUNTERS = ("input_checked", "input_exact", "input_drift_abs", "input_drift_max")
# Prefix cache: requests whose usage said, of them hits, their cached and prompt tokens.
CACHE_COUNTERS = ("cache_reported", "cache_hits", "cached_tokens", "cache_prompt_tokens")
REASONING_COUNTERS = ("reasoning_requests", "reasoning_tokens", "reasoning_estimated")
NEWER_COUNTERS = (*GOODPUT_COUNTERS, *DRIFT_COUNTERS, *CACHE_COUNTERS, *REASONING_COUNTERS)
COUNTERS = (*SUMMARY_COUNTERS, "tool_expected", "tool_correct", *NEWER_COUNTERS)


class ModelMetrics:
    """Counters and latency histograms for one model (or for all models together)."""

    __slots__ = (*COUNTERS, *HISTOGRAMS, "tool_errors")
    # The slots, as set by __init__ (for type checkers): counters, then histograms.
    requests: int
    failures: int
    cancelled: int
    input_tokens: int
    output_tokens: int
    usage_reported: int
    usage_estimated: int
    connection_retries: int
    tool_expected: int
    tool_correct: int
    good: int
    good_output_tokens: int
    input_checked: int
    input_exact: int
    input_drift_abs: int
    input_drift_max: int
    cache_reported: int
    cache_hits: int
    cached_tokens: int
    cache_prompt_tokens: int
    reasoning_requests: int
    reasoning_tokens: int
    reasoning_estimated: int
    ttft_ms: LogHistogram
    itl_ms: LogHistogram
    tpot_ms: LogHistogram
    e2e_ms: LogHistogram
    request_output_tokens_per_s: LogHistogram
    tool_first_call_ms: LogHistogram
    tool_call_ms: LogHistogram
    tool_args_tokens_per_s: LogHistogram
    task_ms: LogHistogram
    ttft_cache_hit_ms: LogHistogram
    ttft_cache_miss_ms: LogHistogram
    ttfo_ms: LogHistogram

    def __init__(self) -> None:
        for name in COUNTERS:
            setattr(self, name, 0)
        for name in HISTOGRAMS:
            setattr(self, name, LogHistogram())
        self.tool_errors: dict[str, int] = {}

    def add(self, rec: RequestRecord, good: bool = False) -> None:
        """Account one call; `good`: it met the run's SLO (see `llm_load.core.metrics.slo`)."""
        self.output_tokens += rec.output_tokens
        self.input_tokens += rec.input_tokens
        self.connection_retries += rec.connection_retries
        if (drift := rec.input_drift) is not None:
            self._add_drift(drift)
        if rec.cached_tokens is not None and not rec.cancelled:
            self._add_cache(rec, rec.cached_tokens)
        if rec.reasoning_tokens is not None and not rec.cancelled:
            self._add_reasoning(rec, rec.reasoning_tokens)
        if rec.ttft_ms is not None:
            self.ttft_ms.record(rec.ttft_ms)
        if rec.server_ttft_ms is not None:
            self._add_server_times(rec)
        record_itl = self.itl_ms.record
        for gap in rec.itl_ms:
            record_itl(gap)
        if rec.cancelled:
            self.cancelled += 1
            return
        self.requests += 1
        if rec.usage_reported:
            self.usage_reported += 1
        else:
            self.usage_estimated += 1
        if not rec.ok:
            self.failures += 1
            return
        self._add_success(rec, good)

    def _add_success(self, rec: RequestRecord, good: bool) -> None:
        if good:
            self.good += 1
            self.good_output_tokens += rec.output_tokens
        if rec.tool_grade is not None:
            self._add_grade(rec.tool_grade)
        if rec.tool_call_times_s:
            self._add_tool_times(rec)
        self.e2e_ms.record(rec.e2e_ms)
        if (tpot := rec.tpot_ms) is not None:
            self.tpot_ms.record(tpot)
        if (rate := rec.output_tokens_per_s) is not None:
            self.request_output_tokens_per_s.record(rate)

    def _add_server_times(self, rec: RequestRecord) -> None:
        for name in SERVER_HISTOGRAMS:
            if (value := getattr(rec, name)) is not None:
                getattr(self, name).record(value)

    def _add_drift(self, drift: int) -> None:
        self.input_checked += 1
        self.input_exact += drift == 0
        self.input_drift_abs += abs(drift)
        self.input_drift_max = max(self.input_drift_max, abs(drift))

    def _add_reasoning(self, rec: RequestRecord, tokens: int) -> None:
        self.reasoning_requests += 1
        self.reasoning_tokens += tokens
        self.reasoning_estimated += rec.reasoning_estimated
        if rec.ttfo_ms is not None:
            self.ttfo_ms.record(rec.ttfo_ms)

    def _add_cache(self, rec: RequestRecord, cached: int) -> None:
        self.cache_reported += 1
        self.cache_hits += cached > 0
        self.cached_tokens += cached
        self.cache_prompt_tokens += rec.input_tokens
        if rec.ttft_ms is not None:
            split = self.ttft_cache_hit_ms if cached > 0 else self.ttft_cache_miss_ms
            split.record(rec.ttft_ms)

    def _add_tool_times(self, rec: RequestRecord) -> None:
        for name in ("tool_first_call_ms", "tool_call_ms", "tool_args_tokens_per_s"):
            if (value := getattr(rec, name)) is not None:
                getattr(self, name).record(value)

    def _add_grade(self, grade: str) -> None:
        self.tool_expected += 1
        if grade == "correct":
            self.tool_correct += 1
        else:
            self.tool_errors[grade] = self.tool_errors.get(grade, 0) + 1

    def merge(self, other: ModelMetrics) -> None:
        drift_max = max(self.input_drift_max, other.input_drift_max)  # a maximum, not a sum
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.input_drift_max = drift_max
        for name in HISTOGRAMS:
            getattr(self, name).merge(getattr(other, name))
        for grade, count in other.tool_errors.items():
            self.tool_errors[grade] = self.tool_errors.get(grade, 0) + count

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        out.update({name: getattr(self, name).to_dict() for name in HISTOGRAMS})
        out["tool_errors"] = dict(self.tool_errors)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetrics:
        book = cls()
        for name in COUNTERS:
            value = data.get(name, 0) if name in NEWER_COUNTERS else data[name]
            setattr(book, name, int(value))
        for name in HISTOGRAMS:
            hist = (
                data.get(name)
                if name in SERVER_HISTOGRAMS or name in NEWER_HISTOGRAMS
                else data[name]
            )
            setattr(book, name, LogHistogram.from_dict(hist) if hist else LogHistogram())
        book.tool_errors = {str(k): int(v) for k, v in data["tool_errors"].items()}
        return book

    def summary(self, duration_s: float, slo: SLO | None = None) -> Metrics:
        """The `METRICS` object of summary.json; rates are per second of `duration_s`;
        `goodput` only when the run has an `slo`."""
        out: dict[str, Any] = {name: getattr(self, name) for name in SUMMARY_COUNTERS}
        per_s = (lambda n: n / duration_s) if duration_s > 0 else (lambda n: 0.0)
        out["requests_per_s"] = per_s(self.requests)
        out["output_tokens_per_s"] = per_s(self.output_tokens)
        out["error_rate"] = self.failures / self.requests if self.requests else 0.0
        for name in HISTOGRAMS:
            hist = getattr(self, name)
            if hist.count or name not in OPTIONAL_HISTOGRAMS:
                out[name] = hist.summary()
        if self.tool_expected:
            accuracy = self.tool_correct / self.tool_expected
            out["tool_accuracy"] = accuracy
            out["tool_calls"] = {
                "expected": self.tool_expected,
                "correct": self.tool_correct,
                "accuracy": accuracy,
                "by_error": dict(sorted(self.tool_errors.items())),
            }
        if self.input_checked:
            out["input_tokens_drift"] = self._drift()
        if self.cache_reported:
            out["cached_tokens"] = self.cached_tokens
            out["prefix_cache"] = self._cache()
        if self.reasoning_requests:
            out["reasoning"] = {
                "requests": self.reasoning_requests,
                "tokens": self.reasoning_tokens,
                "estimated_requests": self.reasoning_estimated,
            }
        if slo is not None:
            out["goodput"] = {
                "slo": slo.as_dict(),
                "good": self.good,
                "ratio": self.good / self.requests if self.requests else None,
                "requests_per_s": per_s(self.good),
                "output_tokens_per_s": per_s(self.good_output_tokens),
            }
        return cast(Metrics, out)

    def _cache(self) -> dict[str, Any]:
        """Prefix-cache use: `hit_ratio` = cached / prompt tokens (as vLLM's own counters
        count it), `request_hit_ratio` = requests with any cached token."""
        prompt, reported = self.cache_prompt_tokens, self.cache_reported
        return {
            "requests_reported": reported,
            "hits": self.cache_hits,
            "cached_tokens": self.cached_tokens,
            "prompt_tokens": prompt,
            "hit_ratio": self.cached_tokens / prompt if prompt else 0.0,
            "request_hit_ratio": self.cache_hits / reported,
        }

    def _drift(self) -> dict[str, Any]:
        """Requested vs reported prompt tokens: `drift` is True when any request missed."""
        checked = self.input_checked
        return {
            "checked": checked,
            "exact": self.input_exact,
            "mean_abs_tokens": self.input_drift_abs / checked,
            "max_abs_tokens": self.input_drift_max,
            "drift": self.input_exact < checked,
        }


@dataclass
class ErrorStat:
    """How often one kind of error happened, with the first message seen as an example."""

    count: int = 0
    example: str = ""

    def merge(self, other: ErrorStat) -> None:
        self.count += other.count
        self.example = self.example or other.example


@dataclass
class MetricsBook:
    """All LLM metrics of a run (or of one worker's report interval)."""

    by_model: dict[str, ModelMetrics] = field(default_factory=dict)
    errors: dict[str, ErrorStat] = field(default_factory=dict)
    series: TimeSeries = field(default_factory=TimeSeries)
    arrivals: ArrivalStats = field(default_factory=ArrivalStats)  # open-loop loads only
    slo: SLO | None = None  # the run's SLO (configuration: kept by `reset`, not on the wire)
    warmup_requests: int = 0  # warm-up calls: in the time series only
    warmup_until: float = 0.0  # epoch s when the warm-up ended (the latest of every process)
    by_turn: dict[int, TurnMetrics] = field(default_factory=dict)  # multi-turn calls
    # epoch s of this process's last "Reset stats" (0: none); its own mark, not on the wire
    reset_at: float = 0.0

    def add_warmup(self, rec: RequestRecord, until: float) -> None:
        """Account a warm-up call: the time series only."""
        self.series.add(rec, False)
        self.warmup_requests += 1
        self.warmup_until = max(self.warmup_until, until)

    def add_before_reset(self, rec: RequestRecord) -> None:
        """Account a call sent before the last "Reset stats": the time series only."""
        self.series.add(rec, self.slo is not None and self.slo.met(rec))

    def add_task(self, model: str, task_ms: float) -> None:
        """Account one whole multi-turn tool task (every turn is also a call of its own)."""
        self.by_model.setdefault(model, ModelMetrics()).task_ms.record(task_ms)

    def add(self, rec: RequestRecord) -> None:
        model = self.by_model.get(rec.model)
        if model is None:
            model = self.by_model[rec.model] = ModelMetrics()
        good = self.slo is not None and self.slo.met(rec)
        model.add(rec, good)
        self.series.add(rec, good)
        if rec.turn is not None and not rec.cancelled:
            add_turn(self.by_turn, rec, rec.turn)
        if rec.error_kind is not None and not rec.cancelled:
            stat = self.errors.setdefault(rec.error_kind, ErrorStat())
            stat.count += 1
            stat.example = stat.example or (rec.error_message or "")

    def merge(self, other: MetricsBook) -> None:
        for name, model in other.by_model.items():
            self.by_model.setdefault(name, ModelMetrics()).merge(model)
        for kind, stat in other.errors.items():
            self.errors.setdefault(kind, ErrorStat()).merge(stat)
        self.series.merge(other.series)
        self.arrivals.merge(other.arrivals)
        self.warmup_requests += other.warmup_requests
        self.warmup_until = max(self.warmup_until, other.warmup_until)
        merge_turns(self.by_turn, other.by_turn)

    def reset(self) -> None:
        self.reset_stats(0.0)
        self.series.reset()

    def reset_stats(self, at: float) -> None:
        """Locust's "Reset stats" at `at` (epoch s): forget totals, distributions, errors,
        arrivals and the warm-up count; keep the time series."""
        self.by_model.clear()
        self.errors.clear()
        self.arrivals.reset()
        self.warmup_requests, self.warmup_until = 0, 0.0
        self.by_turn.clear()
        self.reset_at = at

    @property
    def empty(self) -> bool:
        return (
            not self.by_model
            and not self.errors
            and not self.series.windows
            and self.arrivals.empty
        )

    def totals(self) -> ModelMetrics:
        total = ModelMetrics()
        for model in self.by_model.values():
            total.merge(model)
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_model": {name: m.to_dict() for name, m in self.by_model.items()},
            "errors": {k: {"count": e.count, "example": e.example} for k, e in self.errors.items()},
            "series": self.series.to_dict(),
            "arrivals": self.arrivals.to_dict(),
            "warmup": [self.warmup_requests, self.warmup_until],
            "by_turn": turns_to_dict(self.by_turn),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricsBook:
        return cls(
            by_model={k: ModelMetrics.from_dict(v) for k, v in data["by_model"].items()},
            errors={
                k: ErrorStat(int(v["count"]), str(v["example"])) for k, v in data["errors"].items()
            },
            series=TimeSeries.from_dict(data["series"]),
            arrivals=ArrivalStats.from_dict(data["arrivals"]),
            warmup_requests=int(data.get("warmup", (0, 0))[0]),
            warmup_until=float(data.get("warmup", (0, 0))[1]),
            by_turn=turns_from_dict(data.get("by_turn")),
        )

    def error_list(self) -> list[ErrorEntry]:
        """`errors[]` of summary.json, most frequent first."""
        ranked = sorted(self.errors.items(), key=lambda item: (-item[1].count, item[0]))
        return [{"kind": k, "count": e.count, "example": e.example} for k, e in ranked]
