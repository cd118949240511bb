"""Compare two run summaries: per metric, value A, value B, the change and a verdict.

`compare(a, b)` looks at every model present in both summaries and at the totals (`(all)`),
left out when both runs had the same single model (they would repeat its rows).
For each metric the better direction is fixed: latencies (TTFT, ITL, E2E p50/p99) are better
lower, throughput (req/s, output tok/s) better higher, error rate better lower and tool-call
accuracy better higher. Latencies and throughput change relatively: `|B - A| / |A| <= noise`
(default 5 %) is `same`. A p99 is also `same` when the two runs' sampling intervals of it
overlap (`llm_load.report.quantile_band`: from each run's own sample count and quantiles),
since a tail percentile of a few hundred samples moves by far more than
5 % between identical runs. Error rate and tool accuracy are shares and change in absolute
percentage points: `|B - A| <= rate_noise` (default 0.01, one point) is `same`. Beyond the
band the direction decides `better` or `worse`; a metric one side lacks is `n/a`, one both
lack is left out. Band edges count as `same`. The result is a plain dict
(`llm_load.report.diff_render` prints it as a console table, Markdown, HTML or CSV).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_load.report.quantile_band import quantile_interval
from llm_load.report.rows import TOTAL, headline

__all__ = [
    "DEFAULT_NOISE",
    "DEFAULT_RATE_NOISE",
    "METRICS",
    "Metric",
    "compare",
    "compare_value",
]

DEFAULT_NOISE = 0.05
DEFAULT_RATE_NOISE = 0.01
_EPSILON = 1e-9  # float slack so that a change exactly at the band edge counts as `same`


@dataclass(frozen=True, slots=True)
class Metric:
    """One compared metric: `key` of `rows.headline`, better `lower` or higher, and whether
    it changes in `points` (a 0..1 share) or relatively."""

    key: str
    label: str
    unit: str
    lower_is_better: bool
    points: bool = False
    tail: tuple[str, float] | None = None  # (distribution, quantile): judged by its interval


METRICS = (
    Metric("ttft_p50_ms", "TTFT p50", "ms", True),
    Metric("ttft_p99_ms", "TTFT p99", "ms", True, tail=("ttft_ms", 0.99)),
    Metric("itl_p50_ms", "ITL p50", "ms", True),
    Metric("itl_p99_ms", "ITL p99", "ms", True, tail=("itl_ms", 0.99)),
    Metric("e2e_p50_ms", "E2E p50", "ms", True),
    Metric("e2e_p99_ms", "E2E p99", "ms", True, tail=("e2e_ms", 0.99)),
    Metric("requests_per_s", "requests/s", "/s", False),
    Metric("output_tokens_per_s", "output tok/s", "tok/s", False),
    Metric("error_rate", "error rate", "%", True, points=True),
    Metric("tool_accuracy", "tool accuracy", "%", False, points=True),
)


def _direction(metric: Metric, delta: float) -> str:
    improved = delta < 0 if metric.lower_is_better else delta > 0
    return "better" if improved else "worse"


def compare_value(
    metric: Metric,
    a: float | None,
    b: float | None,
    *,
    noise: float = DEFAULT_NOISE,
    rate_noise: float = DEFAULT_RATE_NOISE,
    intervals: tuple[tuple[float, float] | None, tuple[float, float] | None] = (None, None),
) -> dict[str, Any]:
    """One row: `a`, `b`, `delta` (B - A), `delta_pct` (relative change in %, None for
    point metrics or when A is 0) and `verdict` (`better`, `worse`, `same` or `n/a`).
    `intervals`: each run's sampling interval of a tail percentile; overlapping is `same`."""
    row: dict[str, Any] = {"metric": metric.key, "label": metric.label, "unit": metric.unit,
                           "points": metric.points, "a": a, "b": b, "delta": None,
                           "delta_pct": None, "verdict": "n/a"}  # fmt: skip
    if a is None or b is None:
        return row
    delta = b - a
    row["delta"] = delta
    if metric.points:
        within = abs(delta) <= rate_noise + _EPSILON
    elif a == 0:
        within = b == 0
        row["delta_pct"] = 0.0 if within else None
    else:
        row["delta_pct"] = 100.0 * delta / abs(a)
        within = abs(delta) / abs(a) <= noise + _EPSILON
    ia, ib = intervals
    if ia is not None and ib is not None and noise > 0:  # `--noise 0` flags every change
        row["intervals"] = [list(ia), list(ib)]
        within = within or max(ia[0], ib[0]) <= min(ia[1], ib[1]) + _EPSILON
    row["verdict"] = "same" if within else _direction(metric, delta)
    return row


def _rows(ma: dict[str, Any], mb: dict[str, Any], noise: float, rate_noise: float) -> list:
    ha, hb = headline(ma), headline(mb)
    return [
        compare_value(
            m,
            ha[m.key],
            hb[m.key],
            noise=noise,
            rate_noise=rate_noise,
            intervals=(_interval(ma, m), _interval(mb, m)),
        )
        for m in METRICS
        if ha[m.key] is not None or hb[m.key] is not None
    ]


def _interval(metrics: dict[str, Any], metric: Metric) -> tuple[float, float] | None:
    if metric.tail is None:
        return None
    dist, q = metric.tail
    return quantile_interval(metrics.get(dist), q)


def _about(summary: dict[str, Any], label: str) -> dict[str, Any]:
    totals = summary.get("totals") or {}
    return {
        "label": label,
        "started_at": summary.get("started_at"),
        "target": summary.get("target"),
        "duration_s": summary.get("duration_s"),
        "scenario": (summary.get("settings") or {}).get("scenario"),
        "requests": totals.get("requests"),
    }


def compare(
    a: dict[str, Any],
    b: dict[str, Any],
    *,
    noise: float = DEFAULT_NOISE,
    rate_noise: float = DEFAULT_RATE_NOISE,
    labels: tuple[str, str] = ("A", "B"),
) -> dict[str, Any]:
    """The comparison of summary `a` (before) with `b` (after); see the module docstring."""
    if noise < 0 or rate_noise < 0:
        raise ValueError("noise bands must be >= 0")
    models_a, models_b = a.get("by_model") or {}, b.get("by_model") or {}
    common = [name for name in models_a if name in models_b]
    groups = [
        {"model": name, "rows": _rows(models_a[name], models_b[name], noise, rate_noise)}
        for name in common
    ]
    if not (len(models_a) == len(models_b) == len(common) == 1):
        totals = _rows(a.get("totals") or {}, b.get("totals") or {}, noise, rate_noise)
        groups.append({"model": TOTAL, "rows": totals})
    counts = {"better": 0, "worse": 0, "same": 0, "n/a": 0}
    for group in groups:
        for row in group["rows"]:
            counts[row["verdict"]] += 1
    return {
        "noise": noise,
        "rate_noise": rate_noise,
        "a": _about(a, labels[0]),
        "b": _about(b, labels[1]),
        "models": groups,
        "only_in_a": [name for name in models_a if name not in models_b],
        "only_in_b": [name for name in models_b if name not in models_a],
        "verdicts": counts,
    }
