"""Exact, mergeable, constant-memory log-linear histogram for latency-like values.

`LogHistogram` counts values (any non-negative unit, e.g. milliseconds) in a fixed layout of
buckets: bucket 0 holds everything below `LogHistogram.LOWEST` (0.1), then every power of two
above it is split into `LogHistogram.SUB_BUCKETS` (64) equal-width linear sub-buckets, up to
the bucket containing `LogHistogram.HIGHEST` (600,000), which also absorbs larger values. A
bucket's width is at most 1/64 of its lower edge, so reporting its midpoint is within 0.79%
of any value in it; ``min``, ``max``, ``count`` and ``total`` are kept exactly. Percentiles use
the nearest-rank definition and return the midpoint of the rank's bucket clamped into
[min, max] (rank 1 and rank ``count`` return ``min`` and ``max`` exactly). Because the layout
is fixed, two histograms merge exactly by adding bucket counts, in any order, which is how
Locust workers' histograms are combined on the master via the plain-dict wire format of
`LogHistogram.to_dict` / `LogHistogram.from_dict` (also used in summary files).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

__all__ = ["LogHistogram"]

_LOWEST = 0.1
_HIGHEST = 600_000.0
_SUB_BUCKETS = 64  # linear sub-buckets per power of two; record() hard-codes 64 (<< 6, * 128)
_INF = math.inf
_frexp = math.frexp  # module global: one lookup less on the hot path


def _bucket_index(value: float) -> int:
    """Index of the bucket of ``value`` (``LOWEST <= value <= HIGHEST``); mirrors record()."""
    mantissa, exponent = _frexp(value / _LOWEST)
    return (exponent << 6) + int(mantissa * 128.0) - 127


_NUM_BUCKETS = _bucket_index(_HIGHEST) + 1
_LAST = _NUM_BUCKETS - 1
_ZEROS = [0] * _NUM_BUCKETS
_LAYOUT: dict[str, Any] = {
    "lowest": _LOWEST,
    "highest": _HIGHEST,
    "sub_buckets": _SUB_BUCKETS,
    "num_buckets": _NUM_BUCKETS,
}


def _midpoint(index: int) -> float:
    """Midpoint of bucket ``index``.

    Bucket i >= 1 covers [LOWEST * 2**e * (1 + s/64), LOWEST * 2**e * (1 + (s+1)/64)) with
    e, s = divmod(i - 1, 64); bucket 0 covers [0, LOWEST).
    """
    if index == 0:
        return _LOWEST / 2.0
    exponent, sub = divmod(index - 1, _SUB_BUCKETS)
    return math.ldexp(_LOWEST * (1.0 + (sub + 0.5) / _SUB_BUCKETS), exponent)


_MIDPOINTS = [_midpoint(index) for index in range(_NUM_BUCKETS)]
_SUMMARY_PERCENTILES = (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99))


def _nearest_rank(q: float, count: int) -> int:
    """Nearest rank ``max(1, ceil(q/100 * count))``, computed exactly on q's decimal form."""
    return max(1, math.ceil(Fraction(str(q)) * count / 100))


class LogHistogram:
    """Log-linear bucketed histogram; ≤1% relative error for values from 0.1 to 600,000.

    Values are in any unit the caller picks (llm-load records milliseconds); the layout
    constants below are in that same unit. Memory is constant (`NUM_BUCKETS` integers).
    """

    LOWEST: float = _LOWEST
    HIGHEST: float = _HIGHEST
    SUB_BUCKETS: int = _SUB_BUCKETS
    NUM_BUCKETS: int = _NUM_BUCKETS

    __slots__ = ("_counts", "_max", "_min", "count", "total")

    def __init__(self) -> None:
        self._counts: list[int] = list(_ZEROS)
        self.count: int = 0
        self.total: float = 0.0
        self._min: float = _INF  # sentinels while empty; exposed as None
        self._max: float = -_INF

    def record(self, value: float) -> None:
        """Add one value. Negatives count as 0; NaN and infinities raise ValueError."""
        if _LOWEST <= value <= _HIGHEST:
            mantissa, exponent = _frexp(value / _LOWEST)
            self._counts[(exponent << 6) + int(mantissa * 128.0) - 127] += 1
        else:
            value = self._record_outside(value)
        self.count += 1
        self.total += value
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value

    def _record_outside(self, value: float) -> float:
        """Bucket a value outside [LOWEST, HIGHEST]; return it as it is to be accounted."""
        if not -_INF < value < _INF:
            raise ValueError(f"LogHistogram cannot record non-finite value {value!r}")
        if value < _LOWEST:
            self._counts[0] += 1
            return value if value > 0.0 else 0.0
        self._counts[_LAST] += 1
        return value

    @property
    def min(self) -> float | None:
        """Smallest recorded value (exact), or None when empty."""
        return self._min if self.count else None

    @property
    def max(self) -> float | None:
        """Largest recorded value (exact), or None when empty."""
        return self._max if self.count else None

    @property
    def mean(self) -> float | None:
        """Arithmetic mean of the recorded values, or None when empty."""
        return self.total / self.count if self.count else None

    def percentile(self, q: float) -> float | None:
        """Nearest-rank ``q``-th percentile (``q`` in [0, 100]), or None when empty.

        The rank is ``max(1, ceil(q/100 * count))`` evaluated on q's shortest decimal form
        (so ``99.9`` means exactly 999/10); the result is within 1% of the exact value.
        """
        if not 0.0 <= q <= 100.0:
            raise ValueError(f"percentile q must be within [0, 100], got {q!r}")
        if not self.count:
            return None
        return self._values_at_ranks([_nearest_rank(q, self.count)])[0]

    def count_above(self, value: float) -> int:
        """How many recorded values exceed ``value``, judged like `percentile` (each value at
        its bucket's midpoint clamped into [min, max]); exact when ``value`` is outside them."""
        if not self.count or value >= self._max:
            return 0
        if value < self._min:
            return self.count
        low, high = self._min, self._max
        counts = enumerate(self._counts)
        return sum(c for i, c in counts if c and min(high, max(low, _MIDPOINTS[i])) > value)

    def _values_at_ranks(self, ranks: list[int]) -> list[float]:
        """Estimated values at ascending 1-based ranks (1 <= rank <= count), in one pass."""
        low, high, count = self._min, self._max, self.count
        out: list[float] = []
        pending = iter(ranks)
        rank = next(pending, None)
        cumulative = 0
        for index, bucket_count in enumerate(self._counts):
            cumulative += bucket_count
            while rank is not None and rank <= cumulative:
                if rank <= 1 or rank >= count:
                    out.append(low if rank <= 1 else high)
                else:
                    out.append(min(high, max(low, _MIDPOINTS[index])))
                rank = next(pending, None)
            if rank is None:
                break
        return out

    def merge(self, other: LogHistogram) -> None:
        """Add ``other``'s values into this histogram, in place and exactly."""
        if not isinstance(other, LogHistogram):
            raise TypeError(f"can only merge a LogHistogram, not {type(other).__name__}")
        counts = self._counts
        for index, bucket_count in enumerate(other._counts):
            if bucket_count:
                counts[index] += bucket_count
        self.count += other.count
        self.total += other.total
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def reset(self) -> None:
        """Forget all recorded values (keeps the allocated bucket array)."""
        self._counts[:] = _ZEROS
        self.count = 0
        self.total = 0.0
        self._min = _INF
        self._max = -_INF

    def summary(self) -> dict[str, float | int | None]:
        """``{"count", "mean", "p50", "p90", "p95", "p99", "max"}``; None values when empty."""
        out: dict[str, float | int | None] = {"count": self.count, "mean": self.mean}
        if self.count:
            ranks = [_nearest_rank(q, self.count) for _, q in _SUMMARY_PERCENTILES]
            values: list[float | None] = list(self._values_at_ranks(ranks))
        else:
            values = [None] * len(_SUMMARY_PERCENTILES)
        for (name, _), value in zip(_SUMMARY_PERCENTILES, values, strict=True):
            out[name] = value
        out["max"] = self.max
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON/msgpack-safe wire form: layout, sparse ``[[bucket_index, count], ...]``, stats."""
        return {
            "layout": dict(_LAYOUT),
            "counts": [[index, c] for index, c in enumerate(self._counts) if c],
            "count": self.count,
            "total": self.total,
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LogHistogram:
        """Rebuild a histogram from `to_dict` output; ValueError if malformed or other layout."""
        if not isinstance(d, Mapping):
            raise ValueError(f"LogHistogram.from_dict expects a mapping, got {type(d).__name__}")
        missing = {"layout", "counts", "count", "total", "min", "max"} - set(d)
        if missing:
            raise ValueError(f"LogHistogram dict is missing keys: {sorted(missing)}")
        _check_layout(d["layout"])
        hist = cls()
        hist.count = _check_int("count", d["count"])
        hist.total = _check_number("total", d["total"])
        _fill_counts(hist._counts, d["counts"], hist.count)
        if hist.count:
            hist._min, hist._max = _check_min_max(d["min"], d["max"])
        elif d["min"] is not None or d["max"] is not None:
            raise ValueError("LogHistogram dict has count 0 but min/max are not None")
        return hist

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogHistogram):
            return NotImplemented
        return (
            self.count == other.count
            and self.total == other.total
            and self._min == other._min
            and self._max == other._max
            and self._counts == other._counts
        )

    def __repr__(self) -> str:
        return f"LogHistogram(count={self.count}, mean={self.mean}, min={self.min}, max={self.max})"


def _check_layout(layout: Any) -> None:
    """Raise ValueError unless ``layout`` describes this module's bucket layout."""
    if not isinstance(layout, Mapping) or dict(layout) != _LAYOUT:
        raise ValueError(
            f"LogHistogram layout mismatch: got {layout!r}, expected {_LAYOUT!r} "
            "(histograms from a different llm-load version cannot be merged)"
        )


def _check_int(name: str, value: Any) -> int:
    """Return ``value`` if it is a non-negative int, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"LogHistogram {name} must be a non-negative int, got {value!r}")
    return value


def _fill_counts(counts: list[int], sparse: Any, expected_total: int) -> None:
    """Apply sparse ``[[bucket_index, count], ...]`` pairs to ``counts`` and validate them."""
    if not isinstance(sparse, Sequence) or isinstance(sparse, str | bytes):
        raise ValueError(f"LogHistogram counts must be a list of pairs, got {sparse!r}")
    for pair in sparse:
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"LogHistogram counts entry must be [index, count], got {pair!r}")
        index = _check_int("bucket index", pair[0])
        if index >= _NUM_BUCKETS:
            raise ValueError(f"LogHistogram bucket index {index} out of range 0..{_LAST}")
        counts[index] += _check_int("bucket count", pair[1])
    if sum(counts) != expected_total:
        raise ValueError(
            f"LogHistogram bucket counts sum to {sum(counts)} but count is {expected_total}"
        )


def _check_number(name: str, value: Any) -> float:
    """Return ``value`` if it is a finite int or float, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"LogHistogram {name} must be a finite number, got {value!r}")
    return value


def _check_min_max(low: Any, high: Any) -> tuple[float, float]:
    """Validate min/max of a non-empty histogram; return them."""
    low = _check_number("min", low)
    high = _check_number("max", high)
    if low > high:
        raise ValueError(f"LogHistogram min {low!r} is greater than max {high!r}")
    return low, high
