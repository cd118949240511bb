"""What a capacity search looks for: the scenario's `capacity:` block and its SLO conditions.

`CapacitySpec` is the `capacity:` block of a scenario (and what `llm-load capacity`'s flags
fill in): the mode (`users`: closed loop, concurrent users; `rate`: open loop, requests/s),
the SLOs, bounds and how long a step measures. An SLO is `METRIC.pNN <= MS` (a percentile
limit, e.g. `ttft_ms.p99 <= 500`) or `METRIC <= MS` (a per-request limit that only counts
towards `goodput`); METRIC is one of `ttft_ms`, `itl_ms` (a request's mean gap), `tpot_ms`,
`e2e_ms`, `ttfo_ms` (first answer token, after reasoning). Each becomes a `Condition`: the
most a share `q` of requests may break it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from llm_load.core.metrics.slo import SLO, SLO_METRICS

__all__ = ["CapacitySpec", "Condition", "PercentileLimit", "parse_limit"]

_EXPR = re.compile(
    r"^\s*(?P<metric>[a-z0-9_]+)(?:\.p(?P<pct>\d+(?:\.\d+)?))?\s*(?P<op><=|<|>=|>|==|=)\s*"
    r"(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?:ms)?\s*$"
)
LABELS = {name: name.removesuffix("_ms").upper() for name in SLO_METRICS}  # ttft_ms: TTFT


@dataclass(frozen=True, slots=True)
class PercentileLimit:
    """`metric.pNN <= limit_ms`; `percentile` None: a per-request limit (goodput only)."""

    metric: str
    percentile: float | None
    limit_ms: float

    @property
    def text(self) -> str:
        pct = "" if self.percentile is None else f".p{self.percentile:g}"
        return f"{self.metric}{pct} <= {self.limit_ms:g}"

    def label(self) -> str:
        """`TTFT p99 ≤ 500 ms`."""
        pct = "" if self.percentile is None else f" p{self.percentile:g}"
        return f"{LABELS[self.metric]}{pct} ≤ {self.limit_ms:g} ms"


def parse_limit(text: str) -> PercentileLimit:
    """`ttft_ms.p99 <= 500` or `ttft_ms <= 500`; ValueError says what was expected."""
    expected = (
        f"expected 'METRIC.pNN <= MS' (or 'METRIC <= MS', per request) with METRIC one of "
        f"{', '.join(SLO_METRICS)}, e.g. 'ttft_ms.p99 <= 500'"
    )
    match = _EXPR.match(text)
    if not match or match["metric"] not in SLO_METRICS:
        raise ValueError(f"SLO {text!r}: {expected}")
    if match["op"] != "<=":
        raise ValueError(f"SLO {text!r}: an SLO is an upper limit, write '<='")
    pct = float(match["pct"]) if match["pct"] is not None else None
    if pct is not None and not 0 < pct < 100:
        raise ValueError(f"SLO {text!r}: the percentile must be between p0 and p100")
    value = float(match["value"])
    if value <= 0:
        raise ValueError(f"SLO {text!r}: the limit must be > 0 ms")
    return PercentileLimit(match["metric"], pct, value)


def _check_limit(text: str) -> str:
    parse_limit(text)
    return text


@dataclass(frozen=True, slots=True)
class Condition:
    """At most a share `q` of requests may break this; `kind` is `percentile`, `goodput` or
    `errors`; `limit` is the percentile limit of a `percentile` condition."""

    kind: str
    q: float
    label: str
    limit: PercentileLimit | None = None


class CapacitySpec(BaseModel):
    """The `capacity:` block; loads are users (mode users) or requests/s (mode rate)."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["users", "rate"] = "users"
    slo: list[Annotated[str, AfterValidator(_check_limit)]] = Field(default_factory=list)
    goodput: float | None = Field(default=None, gt=0, le=1)
    max_error_rate: float = Field(default=0.01, ge=0, lt=1)
    min: float = Field(default=1, gt=0)
    max: float = Field(default=256, gt=0)
    resolution: float | None = Field(default=None, gt=0)
    step_s: float = Field(default=10.0, gt=0)  # the least measuring time of a step
    max_step_s: float = Field(default=120.0, gt=0)  # the most, with extensions
    min_requests: int = Field(default=50, ge=1)  # the least requests of a quick pass
    settle_s: float = Field(default=2.0, ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    expect: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> CapacitySpec:
        if self.min > self.max:
            raise ValueError(f"min ({self.min:g}) must be <= max ({self.max:g})")
        if self.mode == "users" and (self.min != int(self.min) or self.max != int(self.max)):
            raise ValueError("min and max are whole users in mode users")
        if self.max_step_s < self.step_s:
            raise ValueError(f"max_step_s ({self.max_step_s:g}) must be >= step_s")
        limits = self.limits()
        if not any(lim.percentile is not None for lim in limits) and self.goodput is None:
            raise ValueError(
                "slo: give at least one percentile limit such as 'ttft_ms.p99 <= 500' "
                "(or a goodput floor for per-request limits)"
            )
        return self

    @property
    def step(self) -> float:
        """The resolution: 1 user or 0.5 req/s unless given."""
        if self.resolution is not None:
            return max(1.0, round(self.resolution)) if self.mode == "users" else self.resolution
        return 1.0 if self.mode == "users" else 0.5

    @property
    def unit(self) -> str:
        return "users" if self.mode == "users" else "req/s"

    def limits(self) -> list[PercentileLimit]:
        return [parse_limit(text) for text in self.slo]

    def request_slo(self) -> SLO:
        """Per-request limits (goodput): plain limits, else each metric's largest limit."""
        limits = self.limits()
        plain = {lim.metric: lim.limit_ms for lim in limits if lim.percentile is None}
        largest: dict[str, float] = {}
        for lim in limits:
            largest[lim.metric] = max(largest.get(lim.metric, 0.0), lim.limit_ms)
        return SLO.from_limits(largest | plain)

    def conditions(self) -> list[Condition]:
        """Every condition a step is judged on, percentile limits first."""
        out = [
            Condition("percentile", (100.0 - lim.percentile) / 100.0, lim.label(), lim)
            for lim in self.limits()
            if lim.percentile is not None
        ]
        if self.goodput is not None:
            out.append(Condition("goodput", 1.0 - self.goodput, f"goodput ≥ {self.goodput:.0%}"))
        out.append(Condition("errors", self.max_error_rate, f"errors ≤ {self.max_error_rate:.1%}"))
        return out

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence
