"""Tests for llm_load.core.metrics.histogram.LogHistogram: accuracy, exact merging, wire format."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction

import pytest

from llm_load.core.metrics.histogram import LogHistogram

LOW, HIGH = 0.1, 600_000.0
QUANTILES = [0, 0.1, 1, 5, 10, 25, 33.3, 50, 66.7, 75, 90, 95, 99, 99.9, 99.99, 100]


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(Fraction(str(q)) * len(ordered) / 100))
    return ordered[rank - 1]


def build(values: list[float]) -> LogHistogram:
    hist = LogHistogram()
    for value in values:
        hist.record(value)
    return hist


def assert_same(a: LogHistogram, b: LogHistogram) -> None:
    """Equal in everything; totals equal up to float summation order."""
    da, db = a.to_dict(), b.to_dict()
    assert math.isclose(da.pop("total"), db.pop("total"), rel_tol=1e-9, abs_tol=1e-9)
    assert da == db


def log_uniform(rng: random.Random, n: int, low: float = LOW, high: float = HIGH) -> list[float]:
    return [math.exp(rng.uniform(math.log(low), math.log(high))) for _ in range(n)]


def datasets() -> list[tuple[str, list[float]]]:
    rng = random.Random(7)
    sets = [
        ("log-uniform-10k", log_uniform(rng, 10_000)),
        ("log-uniform-1k", log_uniform(rng, 1_000)),
        ("normal-ttft", [min(HIGH, max(LOW, rng.gauss(350.0, 60.0))) for _ in range(5_000)]),
        ("normal-itl", [min(HIGH, max(LOW, rng.gauss(12.0, 3.0))) for _ in range(5_000)]),
        ("constant", [123.456] * 1000),
        ("constant-low", [0.1] * 10),
        ("constant-high", [600_000.0] * 10),
        ("two-point", [1.0] * 700 + [1_000.0] * 300),
        ("two-point-extremes", [0.1] * 3 + [600_000.0] * 5),
        ("bucket-edges", [0.1 * 2**k * (1 + s / 64) for k in range(22) for s in range(64)]),
        ("integers", [float(rng.randint(1, 5_000)) for _ in range(2_000)]),
    ]
    for size in (1, 2, 3):
        for _ in range(20):
            sets.append((f"tiny-{size}", log_uniform(rng, size)))
    return sets


@pytest.mark.parametrize(
    ("name", "values"), datasets(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_percentiles_within_one_percent_of_exact_nearest_rank(
    name: str, values: list[float]
) -> None:
    hist = build(values)
    rng = random.Random(name)
    for q in [*QUANTILES, *(rng.uniform(0, 100) for _ in range(20))]:
        exact = exact_percentile(values, q)
        estimate = hist.percentile(q)
        assert estimate is not None
        assert abs(estimate - exact) <= 0.01 * exact, (name, q, exact, estimate)
        assert min(values) <= estimate <= max(values)


def test_bucket_midpoint_error_is_below_0_79_percent() -> None:
    rng = random.Random(11)
    for value in log_uniform(rng, 20_000):
        hist = build([1e-3, value, 1e9])  # p50 = midpoint of value's bucket, unclamped
        estimate = hist.percentile(50)
        assert estimate is not None
        assert abs(estimate - value) <= value / 128 * (1 + 1e-9), value


def test_min_max_mean_count_total_exact() -> None:
    values = [3.5, 0.25, 1200.0, 17.0]
    hist = build(values)
    assert hist.count == 4
    assert hist.total == sum(values)
    assert hist.min == 0.25 and hist.max == 1200.0
    assert hist.mean == sum(values) / 4
    assert hist.percentile(0) == 0.25 and hist.percentile(100) == 1200.0


def test_summary_matches_percentiles() -> None:
    hist = build(log_uniform(random.Random(3), 5_000))
    summary = hist.summary()
    assert list(summary) == ["count", "mean", "p50", "p90", "p95", "p99", "max"]
    assert summary["count"] == 5_000 and summary["mean"] == hist.mean and summary["max"] == hist.max
    for q in (50, 90, 95, 99):
        assert summary[f"p{q}"] == hist.percentile(q)


def test_nearest_rank_uses_decimal_q() -> None:
    hist = build([1.0] * 999 + [1000.0])
    assert hist.percentile(99.9) == pytest.approx(1.0, rel=0.01)  # rank 999, not ceil(999.00..01)
    assert hist.percentile(99.91) == 1000.0
    hist = build([10.0] * 99 + [1000.0])
    assert hist.percentile(99) == pytest.approx(10.0, rel=0.01)  # rank 99 of 100
    assert hist.percentile(100) == 1000.0


def test_empty_histogram() -> None:
    hist = LogHistogram()
    assert hist.count == 0 and hist.total == 0.0
    assert hist.min is None and hist.max is None and hist.mean is None
    assert hist.percentile(50) is None
    assert hist.summary() == {
        "count": 0,
        "mean": None,
        "p50": None,
        "p90": None,
        "p95": None,
        "p99": None,
        "max": None,
    }
    assert LogHistogram.from_dict(hist.to_dict()) == hist


@pytest.mark.parametrize("q", [-0.1, 100.01, math.nan])
def test_percentile_rejects_q_outside_0_100(q: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        build([1.0]).percentile(q)


# --- clamping ----------------------------------------------------------------------------


def test_values_below_lowest_keep_min_max_exact() -> None:
    hist = build([0.05, 0.07, 0.0])
    assert hist.min == 0.0 and hist.max == 0.07
    assert hist.total == pytest.approx(0.12)
    for q in (0, 50, 100):
        estimate = hist.percentile(q)
        assert estimate is not None and 0.0 <= estimate <= 0.07
    assert hist.percentile(0) == 0.0 and hist.percentile(100) == 0.07
    assert hist.to_dict()["counts"] == [[0, 3]]


def test_negative_values_are_clamped_to_zero() -> None:
    hist = build([-5.0, -0.0, 2.0])
    assert hist.min == 0.0 and hist.max == 2.0 and hist.total == 2.0
    assert math.copysign(1.0, hist.min) == 1.0  # not -0.0


def test_values_above_highest_keep_min_max_exact() -> None:
    hist = build([700_000.0, 1_000_000.0, 5e9])
    assert hist.min == 700_000.0 and hist.max == 5e9
    assert hist.percentile(0) == 700_000.0 and hist.percentile(100) == 5e9
    p50 = hist.percentile(50)
    assert p50 is not None and 700_000.0 <= p50 <= 5e9
    assert hist.to_dict()["counts"] == [[LogHistogram.NUM_BUCKETS - 1, 3]]


def test_highest_and_lowest_land_in_first_and_last_real_buckets() -> None:
    assert build([LOW]).to_dict()["counts"] == [[1, 1]]
    assert build([HIGH]).to_dict()["counts"] == [[LogHistogram.NUM_BUCKETS - 1, 1]]
    assert build([math.nextafter(LOW, 0.0)]).to_dict()["counts"] == [[0, 1]]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(value: float) -> None:
    hist = LogHistogram()
    with pytest.raises(ValueError, match="non-finite"):
        hist.record(value)
    assert hist == LogHistogram()


def test_layout_is_constant_size() -> None:
    assert LogHistogram.LOWEST == LOW and LogHistogram.HIGHEST == HIGH
    assert LogHistogram.SUB_BUCKETS == 64
    assert 1_400 <= LogHistogram.NUM_BUCKETS <= 1_500


# --- merging -------------------------------------------------------------------------------


def test_merge_is_commutative_and_associative() -> None:
    rng = random.Random(5)
    parts = [log_uniform(rng, rng.randint(0, 500)) for _ in range(3)]
    a, b, c = (build(p) for p in parts)

    def merged(*hists: LogHistogram) -> LogHistogram:
        out = LogHistogram()
        for hist in hists:
            out.merge(hist)
        return out

    ab = merged(a, b)
    assert_same(ab, merged(b, a))
    left = merged(ab, c)
    right = merged(a, merged(b, c))
    assert_same(left, right)
    assert_same(left, merged(c, b, a))
    assert_same(left, build([v for p in parts for v in p]))


def test_merge_with_integer_values_is_exactly_equal() -> None:
    rng = random.Random(9)
    values = [float(rng.randint(0, 100_000)) for _ in range(3_000)]
    a, b = build(values[:1_000]), build(values[1_000:])
    a.merge(b)
    assert a == build(values)


@pytest.mark.parametrize("seed", range(40))
def test_random_k_way_split_then_merge_equals_single(seed: int) -> None:
    rng = random.Random(seed)
    values = log_uniform(rng, rng.randint(0, 3_000), low=0.01, high=1e6)
    k = rng.randint(1, 8)
    parts: list[list[float]] = [[] for _ in range(k)]
    for value in values:
        parts[rng.randrange(k)].append(value)
    merged = LogHistogram()
    for part in rng.sample(parts, k):
        merged.merge(build(part))
    whole = build(values)
    assert merged.to_dict()["counts"] == whole.to_dict()["counts"]
    assert (merged.count, merged.min, merged.max) == (whole.count, whole.min, whole.max)
    assert math.isclose(merged.total, whole.total, rel_tol=1e-9, abs_tol=1e-9)
    assert merged.summary()["p99"] == whole.summary()["p99"]


def test_merge_empty_and_self() -> None:
    hist = build([1.0, 2.0])
    hist.merge(LogHistogram())
    assert hist == build([1.0, 2.0])
    empty = LogHistogram()
    empty.merge(hist)
    assert empty == hist
    hist.merge(hist)
    assert hist == build([1.0, 2.0, 1.0, 2.0])


def test_merge_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        LogHistogram().merge({"count": 0})  # type: ignore[arg-type]


# --- reset, equality ---------------------------------------------------------------------


def test_reset() -> None:
    hist = build(log_uniform(random.Random(1), 100))
    hist.reset()
    assert hist == LogHistogram()
    assert hist.summary()["count"] == 0 and hist.min is None
    hist.record(5.0)
    assert hist == build([5.0])


def test_equality() -> None:
    assert build([1.0, 2.0]) == build([2.0, 1.0])
    assert build([1.0]) != build([1.001])  # same bucket, different min/max/total
    assert build([1.0]) != LogHistogram()
    assert LogHistogram() != {"count": 0}


# --- wire format ---------------------------------------------------------------------------


def test_to_dict_shape() -> None:
    d = build([0.5, 0.5, 42.0]).to_dict()
    assert set(d) == {"layout", "counts", "count", "total", "min", "max"}
    assert d["layout"] == {
        "lowest": 0.1,
        "highest": 600_000.0,
        "sub_buckets": 64,
        "num_buckets": LogHistogram.NUM_BUCKETS,
    }
    assert d["count"] == 3 and d["total"] == 43.0 and d["min"] == 0.5 and d["max"] == 42.0
    assert [c for _, c in d["counts"]] == [2, 1]
    assert all(isinstance(i, int) and isinstance(c, int) for i, c in d["counts"])


def test_round_trip_through_dict_and_json() -> None:
    hist = build([*log_uniform(random.Random(2), 2_000), 0.0, 0.01, 1e7])
    d = hist.to_dict()
    assert LogHistogram.from_dict(d) == hist
    restored = LogHistogram.from_dict(json.loads(json.dumps(d)))
    assert restored == hist
    assert restored.summary() == hist.summary()
    assert restored.to_dict() == d


def test_from_dict_accepts_tuples_as_msgpack_may_produce() -> None:
    hist = build([1.0, 10.0, 100.0])
    d = hist.to_dict()
    d["counts"] = [tuple(pair) for pair in d["counts"]]
    assert LogHistogram.from_dict(d) == hist


@pytest.mark.parametrize(
    "layout_change",
    [
        {"lowest": 1.0},
        {"highest": 60_000.0},
        {"sub_buckets": 32},
        {"num_buckets": 2_000},
    ],
)
def test_from_dict_rejects_mismatched_layout(layout_change: dict) -> None:
    d = build([1.0]).to_dict()
    d["layout"] = {**d["layout"], **layout_change}
    with pytest.raises(ValueError, match="layout mismatch"):
        LogHistogram.from_dict(d)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layout": None}, "layout mismatch"),
        ({"counts": [[0, 1], [1, 1]]}, "sum to 2"),
        ({"counts": [[99_999, 1]]}, "out of range"),
        ({"counts": [[-1, 1]]}, "non-negative"),
        ({"counts": [[5, -1]]}, "non-negative"),
        ({"counts": [[5]]}, r"\[index, count\]"),
        ({"counts": "nope"}, "list of pairs"),
        ({"count": 1.5}, "non-negative int"),
        ({"total": None}, "finite number"),
        ({"min": None}, "finite number"),
        ({"min": 10.0, "max": 1.0}, "greater than max"),
    ],
)
def test_from_dict_rejects_malformed(change: dict, message: str) -> None:
    d = {**build([1.0]).to_dict(), **change}
    with pytest.raises(ValueError, match=message):
        LogHistogram.from_dict(d)


def test_from_dict_rejects_missing_keys_and_non_mapping() -> None:
    d = build([1.0]).to_dict()
    del d["counts"]
    with pytest.raises(ValueError, match="missing keys"):
        LogHistogram.from_dict(d)
    with pytest.raises(ValueError, match="mapping"):
        LogHistogram.from_dict([1, 2])  # type: ignore[arg-type]
    empty = LogHistogram().to_dict()
    empty["min"] = 1.0
    with pytest.raises(ValueError, match="count 0"):
        LogHistogram.from_dict(empty)
