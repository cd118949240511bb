"""Bucket bounds for exporting our `LogHistogram`s: wanted bounds in seconds snapped to the
histogram's own bucket edges, so per-bound counts are exact (see `llm_load.observe.prometheus`
for the error this leaves), and each bucket's midpoint for replaying counts as values."""

from __future__ import annotations

from bisect import bisect_right
from math import ldexp

from llm_load.core.metrics.histogram import LogHistogram

__all__ = ["BOUNDS", "BOUNDS_S", "WANTED_S", "bucket_bounds", "edge_ms", "midpoint_ms"]

# Wanted bucket bounds (s): 0.5 ms .. 10 min, at most 1.34x apart up to 60 s (1, 1.25, 1.5,
# 2, 2.5, 3, 4, 5, 6, 7.5 per decade).
_DECADE = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5)
WANTED_S = (
    0.0005, 0.00075,
    *(round(m * 10.0**e, 6) for e in range(-3, 1) for m in _DECADE),
    *(10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0),
)  # fmt: skip


def edge_ms(index: int) -> float:
    """Lower edge (ms) of `LogHistogram` bucket `index` (bucket 0: [0, LOWEST))."""
    if index == 0:
        return 0.0
    exponent, sub = divmod(index - 1, LogHistogram.SUB_BUCKETS)
    return ldexp(LogHistogram.LOWEST * (1.0 + sub / LogHistogram.SUB_BUCKETS), exponent)


def midpoint_ms(index: int) -> float:
    """Midpoint (ms) of bucket `index`: strictly inside it, so inside one exported bucket."""
    if index == 0:
        return LogHistogram.LOWEST / 2.0
    return (edge_ms(index) + edge_ms(index + 1)) / 2.0


def bucket_bounds(wanted_s: tuple[float, ...] = WANTED_S) -> tuple[tuple[float, int], ...]:
    """(bound in s, first bucket index at or above it) for each wanted bound, the bound
    snapped to the nearest bucket edge of the `LogHistogram` layout."""
    edges = [edge_ms(i) for i in range(1, LogHistogram.NUM_BUCKETS)]  # edges[k]: bucket k+1
    out: dict[int, float] = {}
    for wanted in wanted_s:
        ms = wanted * 1000.0
        k = bisect_right(edges, ms) - 1  # edges[k] <= ms < edges[k + 1]
        if k + 1 < len(edges) and edges[k + 1] - ms < ms - edges[k]:
            k += 1
        index = max(k, 0) + 1
        out[index] = round(edges[index - 1] / 1000.0, 12)
    return tuple((bound, index) for index, bound in sorted(out.items()))


BOUNDS = bucket_bounds()
BOUNDS_S = tuple(bound for bound, _ in BOUNDS)
