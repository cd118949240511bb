"""The statistical rule of a capacity step: binomial tails on the share of requests over a limit.

Every condition of a step is "the true share of requests that break it is at most `q`": a
percentile limit `ttft_ms.p99 <= 500` allows q = 1 % of requests above 500 ms, a goodput floor
of 0.95 allows 5 % of requests that fail or break a per-request limit, an error ceiling of 1 %
allows 1 % failures. With `k` breaking requests among `n` measured ones, at confidence `c`
(alpha = 1 - c):

- *clearly over* (the step fails) when P(X >= k) < alpha for X ~ Binomial(n, q): that many
  breaks would be unlikely if the share were only q. Requests still in flight count as
  non-breaking here, so a step can fail early without waiting for them.
- *clearly within* (the step passes) when P(X <= k) < alpha: that few breaks would be unlikely
  if the share were as high as q. With no break at all this needs n >= ln(alpha) / ln(1 - q)
  requests: 299 for a p99 at 95 %, 59 for a p95, 29 for a p90.
- otherwise *undecided*: the step measures longer, and at its limit the point estimate
  (k / n <= q, which is "the observed percentile is within the limit") decides, marked
  borderline.
"""

from __future__ import annotations

import math
from enum import Enum

__all__ = ["Verdict", "judge", "lower_tail", "requests_to_pass"]


class Verdict(Enum):
    PASS = "pass"
    FAIL = "fail"
    UNDECIDED = "undecided"


def _log_pmf(n: int, q: float, i: int) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(q)
        + (n - i) * math.log1p(-q)
    )


def lower_tail(k: int, n: int, q: float, stop_at: float = math.inf) -> float:
    """P(X <= k) for X ~ Binomial(n, q), 0 < q < 1; the sum stops early once above `stop_at`."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    total = 0.0
    for i in range(k + 1):
        total += math.exp(_log_pmf(n, q, i))
        if total > stop_at:
            break
    return min(total, 1.0)


def judge(k: int, n: int, q: float, alpha: float, in_flight: int = 0) -> Verdict:
    """The verdict on `k` breaks among `n` requests (plus `in_flight` not yet done) when at
    most a share `q` may break, at significance `alpha` (see module doc)."""
    if q <= 0.0:  # nothing may break: one break fails, none passes once all are in
        return Verdict.FAIL if k else (Verdict.PASS if n and not in_flight else Verdict.UNDECIDED)
    if q >= 1.0:
        return Verdict.PASS
    total = n + in_flight
    if k and total and 1.0 - lower_tail(k - 1, total, q, stop_at=1.0 - alpha) < alpha:
        return Verdict.FAIL
    if not in_flight and n and lower_tail(k, n, q, stop_at=alpha) < alpha:
        return Verdict.PASS
    return Verdict.UNDECIDED


def requests_to_pass(q: float, alpha: float) -> int:
    """The fewest requests, none breaking, that pass a share `q` at significance `alpha`."""
    if q <= 0.0 or q >= 1.0:
        return 1
    return math.floor(math.log(alpha) / math.log1p(-q)) + 1
