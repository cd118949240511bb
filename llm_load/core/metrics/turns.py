"""Metrics by conversation turn (`by_turn` in summary.json) for multi-turn conversations.

Each turn number (1-based; turns past `MAX_TURN` counted with it) keeps counters and a TTFT
histogram of the calls of that turn, so a run shows how prompt length, prefix-cache use and
TTFT change as the resent history grows. Cancelled calls are left out; every part merges
exactly (counters add, histograms add bucket counts), like the rest of the `MetricsBook`.
"""

from __future__ import annotations

from typing import Any

from llm_load.core.metrics.histogram import LogHistogram
from llm_load.core.metrics.record import RequestRecord

__all__ = [
    "MAX_TURN",
    "TurnMetrics",
    "add_turn",
    "merge_turns",
    "turns_from_dict",
    "turns_summary",
    "turns_to_dict",
]

MAX_TURN = 64
COUNTERS = (
    "requests",
    "failures",
    "input_tokens",
    "output_tokens",
    "cache_reported",
    "cached_tokens",
    "cache_prompt_tokens",
)


class TurnMetrics:
    """The calls of one turn number: counters and their TTFT (ms)."""

    __slots__ = (*COUNTERS, "ttft_ms")
    requests: int
    failures: int
    input_tokens: int
    output_tokens: int
    cache_reported: int
    cached_tokens: int
    cache_prompt_tokens: int

    def __init__(self) -> None:
        for name in COUNTERS:
            setattr(self, name, 0)
        self.ttft_ms = LogHistogram()

    def add(self, rec: RequestRecord) -> None:
        self.requests += 1
        self.failures += not rec.ok
        self.input_tokens += rec.input_tokens
        self.output_tokens += rec.output_tokens
        if rec.cached_tokens is not None:
            self.cache_reported += 1
            self.cached_tokens += rec.cached_tokens
            self.cache_prompt_tokens += rec.input_tokens
        if rec.ttft_ms is not None:
            self.ttft_ms.record(rec.ttft_ms)

    def merge(self, other: TurnMetrics) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ttft_ms.merge(other.ttft_ms)

    def to_dict(self) -> dict[str, Any]:
        return {**{n: getattr(self, n) for n in COUNTERS}, "ttft_ms": self.ttft_ms.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnMetrics:
        turn = cls()
        for name in COUNTERS:
            setattr(turn, name, int(data[name]))
        turn.ttft_ms = LogHistogram.from_dict(data["ttft_ms"])
        return turn

    def summary(self) -> dict[str, Any]:
        """One `by_turn` entry: means per request (tokens) and the TTFT distribution;
        `cached_tokens_mean` and `hit_ratio` (cached / prompt tokens) when usage said."""
        n = self.requests
        out: dict[str, Any] = {
            "requests": n,
            "failures": self.failures,
            "input_tokens_mean": self.input_tokens / n if n else 0.0,
            "output_tokens_mean": self.output_tokens / n if n else 0.0,
        }
        if self.cache_reported:
            prompt = self.cache_prompt_tokens
            out["cached_tokens_mean"] = self.cached_tokens / self.cache_reported
            out["hit_ratio"] = self.cached_tokens / prompt if prompt else 0.0
        out["ttft_ms"] = self.ttft_ms.summary()
        return out


def add_turn(turns: dict[int, TurnMetrics], rec: RequestRecord, turn: int) -> None:
    """Account `rec` (not cancelled) under its turn number."""
    key = min(turn, MAX_TURN)
    metrics = turns.get(key)
    if metrics is None:
        metrics = turns[key] = TurnMetrics()
    metrics.add(rec)


def merge_turns(into: dict[int, TurnMetrics], other: dict[int, TurnMetrics]) -> None:
    for key, metrics in other.items():
        into.setdefault(key, TurnMetrics()).merge(metrics)


def turns_to_dict(turns: dict[int, TurnMetrics]) -> dict[str, Any]:
    return {str(k): m.to_dict() for k, m in turns.items()}


def turns_from_dict(data: dict[str, Any] | None) -> dict[int, TurnMetrics]:
    return {int(k): TurnMetrics.from_dict(v) for k, v in (data or {}).items()}


def turns_summary(turns: dict[int, TurnMetrics]) -> dict[str, Any]:
    """`by_turn` of summary.json: turn number (a string key, JSON's) to its entry, in order."""
    return {str(k): turns[k].summary() for k in sorted(turns)}
