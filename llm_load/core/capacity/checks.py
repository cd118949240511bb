"""A step's data judged against the search's conditions: one `Check` per condition.

`check(condition, data)` counts the requests that break the condition (`breaks` of `of`),
the observed value (the percentile, the goodput ratio or the error rate) and, with
`llm_load.core.capacity.stats.judge`, the verdict at the given significance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_load.core.capacity.spec import Condition
from llm_load.core.capacity.stats import Verdict, judge
from llm_load.core.capacity.steps import StepData

__all__ = ["QUICK_MARGIN", "Check", "check", "check_all"]

QUICK_MARGIN = 0.8  # a quick pass needs each percentile at most 80 % of its limit


@dataclass(frozen=True, slots=True)
class Check:
    condition: Condition
    breaks: int
    of: int
    value: float | None  # ms for a percentile, a share for goodput and errors
    verdict: Verdict

    @property
    def quick_ok(self) -> bool:
        """Far enough within to steer on: the point estimate passes and a percentile is at
        most `QUICK_MARGIN` of its limit."""
        limit = self.condition.limit
        if limit is None or self.value is None:
            return self.point_ok
        return self.point_ok and self.value <= QUICK_MARGIN * limit.limit_ms

    @property
    def point_ok(self) -> bool:
        """The point estimate: the observed share of breaks is within the allowed share."""
        return self.of > 0 and self.breaks <= self.condition.q * self.of

    def describe(self) -> str:
        """`TTFT p99 = 720 ms (limit 500)`, `goodput = 91.0 % (floor 95 %)`."""
        cond = self.condition
        if cond.limit is not None:
            shown = "-" if self.value is None else f"{self.value:,.0f}"
            name = cond.label.split(" ≤ ")[0]
            return f"{name} = {shown} ms (limit {cond.limit.limit_ms:g})"
        value = self.value or 0.0
        if cond.kind == "goodput":
            return f"goodput = {value:.1%} (floor {1 - cond.q:.0%})"
        return f"error rate = {value:.1%} (ceiling {cond.q:.1%})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "slo": self.condition.label,
            "value": self.value,
            "breaks": self.breaks,
            "of": self.of,
            "allowed_share": self.condition.q,
            "verdict": self.verdict.value,
        }


def check(condition: Condition, data: StepData, alpha: float, drained: bool = True) -> Check:
    """Judge `condition` on `data`; not `drained`: requests in flight count as not breaking."""
    in_flight = 0 if drained else data.in_flight
    if condition.limit is not None:
        limit = condition.limit
        hist = data.hists[limit.metric]
        breaks, of = hist.count_above(limit.limit_ms), hist.count
        value = hist.percentile(limit.percentile or 100.0)
    elif condition.kind == "goodput":
        breaks, of = data.done - data.good, data.done
        value = data.good / data.done if data.done else None
    else:
        breaks, of = data.failures, data.done
        value = data.failures / data.done if data.done else None
    verdict = judge(breaks, of, condition.q, alpha, in_flight)
    return Check(condition, breaks, of, value, verdict)


def check_all(
    conditions: list[Condition], data: StepData, alpha: float, drained: bool = True
) -> list[Check]:
    return [check(condition, data, alpha, drained) for condition in conditions]
