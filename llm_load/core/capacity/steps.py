"""Per-step measurements keyed by *send* time, exact and mergeable across processes.

A request belongs to the step during whose measuring window it was sent, wherever it ends.
Each load-generating process keeps `SendBins`: `StepData` per bin of `BIN_S` seconds of the
send time (epoch clock, like `RequestRecord.started_at`), counting sends as they happen and
outcomes as they finish. Workers ship their bins with each report and start afresh; the
master (or the local runner) adds each bin to the step whose window holds it (`StepWindows`),
so a step's data is exactly what its window sent. Windows start and end on bin edges.
Latency histograms hold successful requests only (failures count in `failures`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from llm_load.core.metrics.histogram import LogHistogram
from llm_load.core.metrics.record import RequestRecord

__all__ = ["BIN_S", "METRICS", "SendBins", "StepData", "StepWindows", "bin_key"]

BIN_S = 0.5
METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "ttfo_ms")
_COUNTERS = ("sent", "done", "failures", "cancelled", "good", "output_tokens")
# The record value each histogram holds (ITL: the request's mean gap, as in the SLO).
_VALUES = {
    "ttft_ms": "ttft_ms",
    "itl_ms": "itl_ms_mean",
    "tpot_ms": "tpot_ms",
    "e2e_ms": "e2e_ms",
    "ttfo_ms": "ttfo_ms",
}


def bin_key(epoch_s: float) -> int:
    return math.floor(epoch_s / BIN_S)


@dataclass(slots=True)
class StepData:
    """Counts and latency histograms (ms) of the requests sent in some span of time."""

    sent: int = 0
    done: int = 0  # finished, failed or not (cancelled ones apart)
    failures: int = 0
    cancelled: int = 0
    good: int = 0  # succeeded within every per-request limit
    output_tokens: int = 0
    hists: dict[str, LogHistogram] = field(
        default_factory=lambda: {name: LogHistogram() for name in METRICS}
    )

    def add(self, rec: RequestRecord, good: bool) -> None:
        if rec.cancelled:
            self.cancelled += 1
            return
        self.done += 1
        self.output_tokens += rec.output_tokens
        if not rec.ok:
            self.failures += 1
            return
        self.good += good
        for name, attr in _VALUES.items():
            value = getattr(rec, attr)
            if value is not None:
                self.hists[name].record(value)

    @property
    def in_flight(self) -> int:
        return max(0, self.sent - self.done - self.cancelled)

    def merge(self, other: StepData) -> None:
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name, hist in other.hists.items():
            self.hists[name].merge(hist)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _COUNTERS}
        out["hists"] = {name: h.to_dict() for name, h in self.hists.items() if h.count}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepData:
        step = cls()
        for name in _COUNTERS:
            setattr(step, name, int(data[name]))
        for name, hist in data.get("hists", {}).items():
            if name in step.hists:
                step.hists[name] = LogHistogram.from_dict(hist)
        return step


class SendBins:
    """One process's `StepData` by send-time bin, since it last shipped them."""

    __slots__ = ("bins",)

    def __init__(self) -> None:
        self.bins: dict[int, StepData] = {}

    def _bin(self, epoch_s: float) -> StepData:
        key = bin_key(epoch_s)
        data = self.bins.get(key)
        if data is None:
            data = self.bins[key] = StepData()
        return data

    def sent(self, epoch_s: float) -> None:
        self._bin(epoch_s).sent += 1

    def add(self, rec: RequestRecord, good: bool) -> None:
        self._bin(rec.started_at).add(rec, good)

    def take(self) -> dict[int, StepData]:
        """The bins so far (this object starts afresh)."""
        bins, self.bins = self.bins, {}
        return bins

    @staticmethod
    def to_wire(bins: dict[int, StepData]) -> dict[str, Any]:
        return {str(key): data.to_dict() for key, data in bins.items()}

    @staticmethod
    def from_wire(data: dict[str, Any]) -> dict[int, StepData]:
        return {int(key): StepData.from_dict(value) for key, value in data.items()}


class StepWindows:
    """Which step each send-time bin belongs to: one window `[start, end)` of bin keys per
    step (the current one may be open: `end` None). Bins after the last window are kept
    until the next window opens (`pending`: the last window may reopen to measure longer);
    the rest (settling time) are counted as `unattributed` and dropped."""

    __slots__ = ("data", "pending", "unattributed", "windows")

    def __init__(self) -> None:
        self.windows: list[tuple[int, int | None]] = []
        self.data: list[StepData] = []
        self.pending: dict[int, StepData] = {}
        self.unattributed = 0

    def open(self, start_key: int) -> int:
        """A new step's window from `start_key` on; returns the step's index."""
        self._drop_pending()
        self.windows.append((start_key, None))
        self.data.append(StepData())
        return len(self.windows) - 1

    def close(self, index: int, end_key: int) -> None:
        self.windows[index] = (self.windows[index][0], end_key)

    def reopen(self, index: int) -> None:
        """The last window measures on: the bins since its end are its own again."""
        self.windows[index] = (self.windows[index][0], None)
        pending, self.pending = self.pending, {}
        self.add(pending)

    def add(self, bins: dict[int, StepData]) -> None:
        last_end = self.windows[-1][1] if self.windows else None
        for key, data in bins.items():
            index = self.step_of(key)
            if index is not None:
                self.data[index].merge(data)
            elif last_end is not None and key >= last_end:
                self.pending.setdefault(key, StepData()).merge(data)
            else:
                self.unattributed += data.sent

    def _drop_pending(self) -> None:
        self.unattributed += sum(data.sent for data in self.pending.values())
        self.pending.clear()

    def step_of(self, key: int) -> int | None:
        for index in range(len(self.windows) - 1, -1, -1):
            start, end = self.windows[index]
            if start <= key and (end is None or key < end):
                return index
        return None
