"""Per-interval LLM metrics over a run (`TimeSeries`), exact and mergeable across workers.

Each finished call lands in the window of its *completion* time: key
``floor((started_at + e2e_s) / interval_s)`` on the epoch clock, so windows line up across
Locust workers without a shared start. A `Window` holds counters (`good`: requests that met
the run's SLO), errors by kind and TTFT / E2E histograms; windows merge exactly (counters
add, histograms add buckets). The master `compact`s windows older than a grace period into
plain points (percentiles computed), which keeps memory bounded on long runs; data arriving
late for a compacted window still adds to its counters. `points(...)` gives the
`timeseries.points` of summary.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm_load.core.metrics.histogram import LogHistogram
from llm_load.core.metrics.record import RequestRecord

__all__ = ["DEFAULT_INTERVAL_S", "TimeSeries", "Window"]

DEFAULT_INTERVAL_S = 1.0
_COUNTERS = ("requests", "failures", "output_tokens")
_HISTOGRAMS = ("ttft_ms", "e2e_ms")


@dataclass(slots=True)
class Window:
    """What finished within one interval; latencies in ms."""

    requests: int = 0
    failures: int = 0
    output_tokens: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    ttft_ms: LogHistogram = field(default_factory=LogHistogram)
    e2e_ms: LogHistogram = field(default_factory=LogHistogram)
    good: int = 0  # requests that met the run's SLO

    def add(self, rec: RequestRecord, good: bool = False) -> None:
        self.output_tokens += rec.output_tokens
        if rec.ttft_ms is not None:
            self.ttft_ms.record(rec.ttft_ms)
        if rec.cancelled:
            return
        self.requests += 1
        if rec.error_kind is not None:
            self.failures += 1
            self.errors[rec.error_kind] = self.errors.get(rec.error_kind, 0) + 1
        else:
            self.e2e_ms.record(rec.e2e_ms)
            self.good += good

    def merge(self, other: Window) -> None:
        self.add_counts(other.requests, other.failures, other.output_tokens, other.errors)
        self.good += other.good
        self.ttft_ms.merge(other.ttft_ms)
        self.e2e_ms.merge(other.e2e_ms)

    def add_counts(
        self, requests: int, failures: int, output_tokens: int, errors: dict[str, int]
    ) -> None:
        self.requests += requests
        self.failures += failures
        self.output_tokens += output_tokens
        for kind, count in errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + count

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _COUNTERS}
        out["errors"] = dict(self.errors)
        out.update({name: getattr(self, name).to_dict() for name in _HISTOGRAMS})
        out["good"] = self.good
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        return cls(
            requests=int(data["requests"]),
            failures=int(data["failures"]),
            output_tokens=int(data["output_tokens"]),
            errors={str(k): int(v) for k, v in data["errors"].items()},
            ttft_ms=LogHistogram.from_dict(data["ttft_ms"]),
            e2e_ms=LogHistogram.from_dict(data["e2e_ms"]),
            good=int(data.get("good", 0)),
        )

    def point(self, interval_s: float) -> dict[str, Any]:
        """The window as a plain summary point (without time, users or stage)."""
        return {
            "requests": self.requests,
            "failures": self.failures,
            "output_tokens": self.output_tokens,
            "requests_per_s": self.requests / interval_s,
            "output_tokens_per_s": self.output_tokens / interval_s,
            "ttft_ms": _percentiles(self.ttft_ms),
            "e2e_ms": _percentiles(self.e2e_ms),
            "errors": dict(self.errors),
            "good": self.good,
        }


def _percentiles(hist: LogHistogram) -> dict[str, float | None]:
    return {"p50": hist.percentile(50), "p99": hist.percentile(99)}


class TimeSeries:
    """Windows of `interval_s` seconds keyed by epoch interval number."""

    __slots__ = ("compacted", "interval_s", "windows")

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.interval_s = interval_s
        self.windows: dict[int, Window] = {}
        self.compacted: dict[int, dict[str, Any]] = {}

    def key(self, epoch_s: float) -> int:
        """The window number of an epoch time in seconds."""
        return int(epoch_s // self.interval_s)

    def add(self, rec: RequestRecord, good: bool = False) -> None:
        key = int((rec.started_at + rec.e2e_s) // self.interval_s)
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = Window()
        window.add(rec, good)

    def merge(self, other: TimeSeries) -> None:
        for key, window in other.windows.items():
            point = self.compacted.get(key)
            if point is not None:  # late data for a finished window: counts still add up
                _add_to_point(point, window, self.interval_s)
            else:
                self.windows.setdefault(key, Window()).merge(window)

    def compact(self, before_key: int) -> None:
        """Turn windows with key < `before_key` into points and drop their histograms."""
        for key in [k for k in self.windows if k < before_key]:
            self.compacted[key] = self.windows.pop(key).point(self.interval_s)

    def reset(self) -> None:
        self.windows.clear()
        self.compacted.clear()

    def to_dict(self) -> dict[str, Any]:
        """Wire form of the open windows (workers never compact)."""
        return {
            "interval_s": self.interval_s,
            "windows": {str(k): w.to_dict() for k, w in self.windows.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimeSeries:
        series = cls(float(data["interval_s"]))
        series.windows = {int(k): Window.from_dict(w) for k, w in data["windows"].items()}
        return series

    def points(self, start_epoch_s: float) -> list[dict[str, Any]]:
        """Every window in time order as summary points; `t_s` is the window's end in seconds
        since `start_epoch_s`."""
        out = dict(self.compacted)
        out.update({k: w.point(self.interval_s) for k, w in self.windows.items()})
        first = self.key(start_epoch_s)
        points = []
        for key in sorted(out):
            if key < first:
                continue
            point = {"t_s": round((key + 1) * self.interval_s - start_epoch_s, 3)}
            point.update(out[key])
            points.append(point)
        return points


def _add_to_point(point: dict[str, Any], window: Window, interval_s: float) -> None:
    point["requests"] += window.requests
    point["failures"] += window.failures
    point["output_tokens"] += window.output_tokens
    point["good"] = point.get("good", 0) + window.good
    point["requests_per_s"] = point["requests"] / interval_s
    point["output_tokens_per_s"] = point["output_tokens"] / interval_s
    for kind, count in window.errors.items():
        point["errors"][kind] = point["errors"].get(kind, 0) + count
