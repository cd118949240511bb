"""Exact, mergeable LLM metrics: per-model books of counters and histograms, and errors.

A `MetricsBook` is fed `RequestRecord`s. Every part merges exactly (counters add,
histograms add bucket counts), so books kept by Locust workers and merged on the master
equal one book fed every record. `to_dict`/`from_dict` give the plain-dict wire format.

What feeds what: TTFT and ITL come from every call that saw tokens (a failed or cancelled
call's first token was still measured); E2E, TPOT and per-request tokens/s only from
successful calls; token counts from every call. Cancelled calls (cut off because the test
stopped) are counted apart and never as failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm_load.core.histogram import LogHistogram
from llm_load.core.record import RequestRecord

__all__ = ["HISTOGRAMS", "ErrorStat", "MetricsBook", "ModelMetrics"]

HISTOGRAMS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "request_output_tokens_per_s")
COUNTERS = (
    "requests",
    "failures",
    "cancelled",
    "input_tokens",
    "output_tokens",
    "usage_reported",
    "usage_estimated",
    "connection_retries",
)


class ModelMetrics:
    """Counters and latency histograms for one model (or for all models together)."""

    __slots__ = (*COUNTERS, *HISTOGRAMS)

    def __init__(self) -> None:
        for name in COUNTERS:
            setattr(self, name, 0)
        for name in HISTOGRAMS:
            setattr(self, name, LogHistogram())

    def add(self, rec: RequestRecord) -> None:
        """Account one call."""
        self.output_tokens += rec.output_tokens
        self.input_tokens += rec.input_tokens
        self.connection_retries += rec.connection_retries
        if rec.ttft_ms is not None:
            self.ttft_ms.record(rec.ttft_ms)
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
        self.e2e_ms.record(rec.e2e_ms)
        if (tpot := rec.tpot_ms) is not None:
            self.tpot_ms.record(tpot)
        if (rate := rec.output_tokens_per_s) is not None:
            self.request_output_tokens_per_s.record(rate)

    def merge(self, other: ModelMetrics) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in HISTOGRAMS:
            getattr(self, name).merge(getattr(other, name))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        out.update({name: getattr(self, name).to_dict() for name in HISTOGRAMS})
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetrics:
        book = cls()
        for name in COUNTERS:
            setattr(book, name, int(data[name]))
        for name in HISTOGRAMS:
            setattr(book, name, LogHistogram.from_dict(data[name]))
        return book

    def summary(self, duration_s: float) -> dict[str, Any]:
        """The `METRICS` object of summary.json; rates are per second of `duration_s`."""
        out: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        per_s = (lambda n: n / duration_s) if duration_s > 0 else (lambda n: 0.0)
        out["requests_per_s"] = per_s(self.requests)
        out["output_tokens_per_s"] = per_s(self.output_tokens)
        out["error_rate"] = self.failures / self.requests if self.requests else 0.0
        out.update({name: getattr(self, name).summary() for name in HISTOGRAMS})
        return out


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

    def add(self, rec: RequestRecord) -> None:
        model = self.by_model.get(rec.model)
        if model is None:
            model = self.by_model[rec.model] = ModelMetrics()
        model.add(rec)
        if rec.error_kind is not None and not rec.cancelled:
            stat = self.errors.setdefault(rec.error_kind, ErrorStat())
            stat.count += 1
            stat.example = stat.example or (rec.error_message or "")

    def merge(self, other: MetricsBook) -> None:
        for name, model in other.by_model.items():
            self.by_model.setdefault(name, ModelMetrics()).merge(model)
        for kind, stat in other.errors.items():
            self.errors.setdefault(kind, ErrorStat()).merge(stat)

    def reset(self) -> None:
        self.by_model.clear()
        self.errors.clear()

    @property
    def empty(self) -> bool:
        return not self.by_model and not self.errors

    def totals(self) -> ModelMetrics:
        total = ModelMetrics()
        for model in self.by_model.values():
            total.merge(model)
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_model": {name: m.to_dict() for name, m in self.by_model.items()},
            "errors": {k: {"count": e.count, "example": e.example} for k, e in self.errors.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricsBook:
        return cls(
            by_model={k: ModelMetrics.from_dict(v) for k, v in data["by_model"].items()},
            errors={
                k: ErrorStat(int(v["count"]), str(v["example"])) for k, v in data["errors"].items()
            },
        )

    def error_list(self) -> list[dict[str, Any]]:
        """`errors[]` of summary.json, most frequent first."""
        ranked = sorted(self.errors.items(), key=lambda item: (-item[1].count, item[0]))
        return [{"kind": k, "count": e.count, "example": e.example} for k, e in ranked]
