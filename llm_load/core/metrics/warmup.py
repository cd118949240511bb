"""The warm-up window: requests left out of the summary's distributions and totals.

`Warmup(duration_s=...)` covers requests sent in the first seconds of the test,
`Warmup(requests=N)` the first N requests finished by this process (each worker counts its
own). Warm-up requests still go into the time series; `until` (epoch s) is when warm-up ended
here, so the summary's rates count from the latest end over every process.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_load.core.metrics.record import RequestRecord

__all__ = ["Warmup", "WarmupError", "parse_warmup"]


class WarmupError(ValueError):
    """A `--warmup` value that is neither a duration nor a request count."""


def parse_warmup(text: str) -> tuple[float, int]:
    """`--warmup` text: `30s` / `2m` (seconds) or `20` (requests) as (duration_s, requests);
    `ValueError` when it is neither."""
    text = text.strip().lower()
    if not text:
        return 0.0, 0
    units = {"s": 1.0, "m": 60.0}
    try:
        if text[-1] in units:
            return max(0.0, float(text[:-1]) * units[text[-1]]), 0
        return 0.0, max(0, int(text))
    except ValueError:
        raise WarmupError(f"--warmup {text!r}: expected '30s', '2m' or a request count") from None


@dataclass
class Warmup:
    """Which records belong to the warm-up (see the module doc)."""

    duration_s: float = 0.0
    requests: int = 0
    until: float = 0.0  # epoch s when warm-up ended on this process (0: not yet / none)
    seen: int = 0

    @property
    def enabled(self) -> bool:
        return self.duration_s > 0 or self.requests > 0

    def start(self, started_wall: float) -> None:
        self.seen = 0
        self.until = started_wall + self.duration_s if self.duration_s > 0 else 0.0

    def takes(self, rec: RequestRecord) -> bool:
        """Whether `rec` is a warm-up request (counted as seen when it is)."""
        if self.duration_s > 0:
            return rec.started_at < self.until
        if self.seen >= self.requests:
            return False
        self.seen += 1
        if self.seen == self.requests:
            self.until = rec.started_at + rec.e2e_s
        return True
