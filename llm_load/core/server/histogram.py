"""Percentiles of Prometheus histograms from cumulative buckets, as `histogram_quantile` does.

Buckets are `(upper bound, cumulative count)` pairs, ascending, the last one `+Inf`. The
difference of two scrapes' buckets is the histogram of what happened between them. A
quantile is interpolated linearly inside its bucket (from the previous bound, or 0); one
that falls into `+Inf` is the highest finite bound. Values are in the histogram's unit.
"""

from __future__ import annotations

import math

__all__ = ["bucket_delta", "quantile", "quantile_bucket"]

Buckets = list[tuple[float, float]]


def bucket_delta(new: Buckets, old: Buckets | None) -> Buckets:
    """`new - old` per bound (a server restart, counts going down, gives `new` itself)."""
    if not old:
        return list(new)
    before = dict(old)
    delta = [(le, count - before.get(le, 0.0)) for le, count in new]
    if any(count < 0 for _, count in delta):
        return list(new)
    return delta


def quantile(buckets: Buckets, q: float) -> float | None:
    """The `q` quantile (0–1) of cumulative `buckets`, or None when they are empty."""
    found = _locate(buckets, q)
    if found is None:
        return None
    lower, upper, share = found
    return lower + (upper - lower) * share


def quantile_bucket(buckets: Buckets, q: float) -> tuple[float, float] | None:
    """The bounds (lower, upper) of the bucket holding the `q` quantile: all that the
    histogram knows of it (`+Inf`: the highest finite bound twice)."""
    found = _locate(buckets, q)
    return None if found is None else found[:2]


def _locate(buckets: Buckets, q: float) -> tuple[float, float, float] | None:
    """(lower, upper, share of the bucket below the rank) of the `q` quantile's bucket."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank and count > prev_count:
            if math.isinf(le):
                return prev_le, prev_le, 0.0
            lower = prev_le if prev_le < le else 0.0
            return lower, le, (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le, prev_le, 0.0
