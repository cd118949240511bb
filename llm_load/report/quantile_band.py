"""How precisely a run's summary pins down a tail percentile: an interval from its own data.

With `n` samples the p-th percentile is an order statistic whose rank varies by about
`sqrt(n p (1 - p))` between runs of the same system, so two runs' p99 differ by far more than
a fixed relative band when `n` is small (a p99 over 300 requests is their 4th largest, and a
client hiccup on three requests moves it anywhere). `quantile_interval(dist, q)` widens `q` by
`Z` standard errors of that rank (plus one rank for discreteness) and maps the ends to values
with the summary's own quantiles (`p50 p90 p95 p99 max`): the low end at the largest known
quantile at or below it (the values in between are unknown, and a heavy tail keeps most of
them near the lower quantile), the high end by linear interpolation (which overstates it for a
heavy tail). Two runs whose intervals overlap are indistinguishable on that percentile.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

__all__ = ["Z", "quantile_interval"]

Z = 2.0  # standard errors of the rank on each side (about a 95 % interval)
_KNOWN = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))


def quantile_interval(dist: Any, q: float, z: float = Z) -> tuple[float, float] | None:
    """`(low, high)` values between which the `q` quantile of a distribution summary
    (`{"count", "p50", ..., "max"}`) lies by sampling noise; None without a count or with
    fewer than two known quantiles."""
    if not isinstance(dist, dict):
        return None
    n = dist.get("count")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return None
    points = [(p, float(dist[k])) for k, p in _KNOWN if _is_number(dist.get(k))]
    if len(points) < 2:
        return None
    half = z * math.sqrt(q * (1.0 - q) / n) + 1.0 / n
    low = max((v for p, v in points if p <= q - half), default=points[0][1])
    return low, _value_at(points, min(1.0, q + half))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value_at(points: list[tuple[float, float]], q: float) -> float:
    """Linear interpolation between known (quantile, value) points, clamped to their range."""
    if q <= points[0][0]:
        return points[0][1]
    for (q0, v0), (q1, v1) in itertools.pairwise(points):
        if q <= q1:
            return v0 + (v1 - v0) * (q - q0) / (q1 - q0)
    return points[-1][1]
