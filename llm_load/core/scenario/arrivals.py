"""Open-loop arrivals: when requests are *meant* to be sent, and how late they really went.

`ArrivalSchedule` yields intended send times (seconds since the test started) for a
piecewise-constant request rate (one rate per stage, req/s), with Poisson (exponential
gaps; memoryless, so a rate change simply restarts the draw at the stage boundary) or
constant gaps. A process generating `1/count` of the rate (`set_share(rank, count)`) makes,
with the other `count - 1`, exactly the whole rate: Poisson processes add up, constant ones
interleave by rank. `ArrivalStats` counts what happened to the arrivals: sent (with the
schedule lag, actual minus intended send time, in ms), late (lag above `LATE_MS`) and
dropped (no user was free within `max_lag_s`); it merges exactly across workers. Latencies
of open-loop requests are measured from the intended time, so a client that falls behind
shows it instead of hiding it (coordinated omission).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_load.core.metrics.histogram import LogHistogram

__all__ = ["LATE_MS", "ArrivalSchedule", "ArrivalStats"]

LATE_MS = 10.0


class ArrivalSchedule:
    """Intended send times of one process's share of an open-loop load."""

    def __init__(
        self,
        segments: Sequence[tuple[float, float]],
        *,
        poisson: bool = True,
        seed: int | str = 0,
    ) -> None:
        """`segments`: (end_s, rate req/s) in time order; no arrivals after the last end."""
        self.segments = list(segments)
        self.poisson = poisson
        self.rng = random.Random(seed)
        self.rank, self.count = 0, 1
        self.t = 0.0
        self._started = False

    def set_share(self, rank: int, count: int) -> None:
        """Generate the `rank`-th of `count` equal shares of the rate from now on."""
        self.rank, self.count = rank, max(1, count)

    def set_rate(self, rate: float, from_t: float) -> None:
        """From `from_t` (s since start) on, `rate` req/s for ever (the capacity search)."""
        self.segments = [(float("inf"), rate)]
        self.t = from_t

    def rate_at(self, t: float) -> tuple[float, float] | None:
        """(rate req/s, end of its segment) at `t`; None after the last segment."""
        for end, rate in self.segments:
            if t < end:
                return rate, end
        return None

    def next(self) -> float | None:
        """The next intended send time (s since start), or None when the schedule ended."""
        t = self.t
        while True:
            segment = self.rate_at(t)
            if segment is None:
                return None
            rate, end = segment
            local = rate / self.count
            if local <= 0:
                t = end
                continue
            gap = self._gap(local)
            if t + gap < end:
                self.t = t + gap
                return self.t
            t = end  # the rate changes: draw again from the boundary

    def _gap(self, local_rate: float) -> float:
        if self.poisson:
            return self.rng.expovariate(local_rate)
        if not self._started:  # interleave the shares of constant arrivals
            self._started = True
            return (self.rank + 1) / (local_rate * self.count)
        return 1.0 / local_rate


@dataclass
class ArrivalStats:
    """What happened to a run's (or a report interval's) arrivals; lag in ms."""

    sent: int = 0
    late: int = 0
    dropped: int = 0
    lag_ms: LogHistogram = field(default_factory=LogHistogram)

    def add_sent(self, lag_ms: float) -> None:
        self.sent += 1
        self.lag_ms.record(max(0.0, lag_ms))
        if lag_ms > LATE_MS:
            self.late += 1

    def merge(self, other: ArrivalStats) -> None:
        self.sent += other.sent
        self.late += other.late
        self.dropped += other.dropped
        self.lag_ms.merge(other.lag_ms)

    def reset(self) -> None:
        self.sent = self.late = self.dropped = 0
        self.lag_ms.reset()

    @property
    def empty(self) -> bool:
        return not (self.sent or self.dropped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "late": self.late,
            "dropped": self.dropped,
            "lag_ms": self.lag_ms.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArrivalStats:
        return cls(
            int(data["sent"]),
            int(data["late"]),
            int(data["dropped"]),
            LogHistogram.from_dict(data["lag_ms"]),
        )

    def summary(self, duration_s: float) -> dict[str, Any]:
        """`arrivals` of summary.json."""
        scheduled = self.sent + self.dropped
        return {
            "scheduled": scheduled,
            "sent": self.sent,
            "late": self.late,
            "dropped": self.dropped,
            "sent_per_s": self.sent / duration_s if duration_s > 0 else 0.0,
            "late_ms": LATE_MS,
            "schedule_lag_ms": self.lag_ms.summary(),
        }
