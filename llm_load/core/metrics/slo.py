"""Per-request service-level objectives (SLOs) and the goodput they define.

An `SLO` is a set of upper limits in ms on any of `ttft_ms`, `itl_ms` (the request's *mean*
inter-token latency), `tpot_ms`, `e2e_ms` and `ttfo_ms` (the first answer token, after any
reasoning). A request is *good* when it succeeded (not failed, not cancelled) and each
limited metric it has is <= its limit; a metric the request does not have (no ITL or TPOT
with one output token, no TTFT or TTFO without streaming, no TTFO without an answer token)
is not judged. Goodput is good requests per second of the run. Limits come from `--slo 'METRIC <=
MS'` (repeatable, parsed by `parse_slo`) and from a scenario's `slo: {METRIC: MS}` mapping
(`SLOLimits`); `SLO.merged` lets the option override the scenario per metric.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, PositiveFloat

from llm_load.core.metrics.record import RequestRecord

__all__ = ["SLO", "SLO_METRICS", "SLOError", "SLOLimits", "describe_slo", "parse_slo"]

SLO_METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "ttfo_ms")
# The record property each metric is judged on (ITL: the request's mean gap).
_RECORD_VALUE = {
    "ttft_ms": "ttft_ms",
    "itl_ms": "itl_ms_mean",
    "tpot_ms": "tpot_ms",
    "e2e_ms": "e2e_ms",
    "ttfo_ms": "ttfo_ms",
}
_LABELS = {name: name.removesuffix("_ms").upper() for name in SLO_METRICS}  # ttft_ms: TTFT
_EXPR = re.compile(
    r"^\s*(?P<metric>[A-Za-z0-9_.]+)\s*(?P<op><=|>=|==|!=|<|>|=)\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:ms)?\s*$"
)


class SLOError(ValueError):
    """An SLO expression or limit that cannot be used."""


class SLOLimits(BaseModel):
    """The scenario's `slo:` mapping: limits in ms, each optional and > 0."""

    model_config = ConfigDict(extra="forbid")
    ttft_ms: PositiveFloat | None = None
    itl_ms: PositiveFloat | None = None
    tpot_ms: PositiveFloat | None = None
    e2e_ms: PositiveFloat | None = None
    ttfo_ms: PositiveFloat | None = None

    def to_slo(self) -> SLO:
        return SLO.from_limits(self.model_dump(exclude_none=True))


@dataclass(frozen=True, slots=True)
class SLO:
    """Upper limits in ms as (metric, limit) pairs, in `SLO_METRICS` order, each once."""

    limits: tuple[tuple[str, float], ...]

    def met(self, rec: RequestRecord) -> bool:
        """Whether `rec` is a good request: succeeded, and within every limit it can be
        judged on (a metric the request has no value for is skipped)."""
        if not rec.ok:
            return False
        for metric, limit in self.limits:
            value = getattr(rec, _RECORD_VALUE[metric])
            if value is not None and value > limit:
                return False
        return True

    def merged(self, override: SLO) -> SLO:
        """These limits with `override`'s replacing them metric by metric."""
        return SLO.from_limits(dict(self.limits) | dict(override.limits))

    def as_dict(self) -> dict[str, float]:
        """`{metric: limit_ms}`, as in summary.json's `goodput.slo`."""
        return dict(self.limits)

    @classmethod
    def from_limits(cls, limits: dict[str, float]) -> SLO:
        """From `{metric: limit_ms}` of known metrics (already validated)."""
        return cls(tuple((name, float(limits[name])) for name in SLO_METRICS if name in limits))

    @classmethod
    def of(cls, *expressions: str) -> SLO:
        """An SLO from `--slo` expressions; a later limit on the same metric wins."""
        return cls.from_limits(dict(parse_slo(text) for text in expressions))


def describe_slo(slo: dict[str, Any], le: str = "≤") -> str:
    """`{ttft_ms: 500, tpot_ms: 50}` -> `TTFT ≤ 500 ms, TPOT ≤ 50 ms` (for reports);
    `le` is the sign written for "at most"."""
    return ", ".join(f"{_LABELS.get(k, k)} {le} {v:g} ms" for k, v in slo.items())


def parse_slo(text: str) -> tuple[str, float]:
    """One `--slo` expression, `METRIC <= MS` (e.g. `ttft_ms <= 500`): (metric, limit ms)."""
    expected = f"expected 'METRIC <= MS' with METRIC one of {', '.join(SLO_METRICS)}"
    match = _EXPR.match(text)
    if not match:
        raise SLOError(f"SLO {text!r}: {expected}, e.g. 'ttft_ms <= 500'")
    metric, op, value = match["metric"], match["op"], float(match["value"])
    if metric not in SLO_METRICS:
        close = difflib.get_close_matches(metric, SLO_METRICS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SLOError(f"SLO {text!r}: unknown metric {metric!r}; {expected}{hint}")
    if op != "<=":
        raise SLOError(f"SLO {text!r}: an SLO is an upper limit, write '{metric} <= {value:g}'")
    if not value > 0:
        raise SLOError(f"SLO {text!r}: the limit must be > 0 ms")
    return metric, value
