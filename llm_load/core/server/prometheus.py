"""One scrape of a Prometheus `/metrics` text, flattened into a `Snapshot`.

Parsed with `prometheus_client`'s text parser (no regexes). Samples of the same name are
summed over their label sets (a server with several engines or models reports one series
each), and `n_series` says how many were summed (ratio gauges are then averaged). Histogram
buckets are summed by their `le` bound into cumulative counts. `_created` samples (counter
creation times) are dropped. Pure: the caller fetches the text and says when it did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Snapshot", "parse_snapshot"]


@dataclass(slots=True)
class Snapshot:
    """Sample values by sample name (`..._total`, `..._sum`, gauges) and histogram buckets
    by histogram name (without `_bucket`): `(upper bound, cumulative count)` ascending."""

    t_s: float  # when it was taken (epoch seconds)
    values: dict[str, float] = field(default_factory=dict)
    n_series: dict[str, int] = field(default_factory=dict)
    buckets: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def value(self, name: str) -> float | None:
        return self.values.get(name)

    def mean(self, name: str) -> float | None:
        """The sample averaged over its label sets (for ratios such as a cache usage)."""
        total = self.values.get(name)
        return None if total is None else total / max(1, self.n_series.get(name, 1))

    def names(self) -> list[str]:
        return sorted({*self.values, *self.buckets})


def parse_snapshot(text: str, t_s: float) -> Snapshot:
    """Flatten a Prometheus text exposition; raises `ValueError` on text it cannot parse."""
    snap = Snapshot(t_s)
    bounds: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, value = sample.name, float(sample.value)
            if name.endswith("_created") or math.isnan(value):
                continue
            if name.endswith("_bucket") and "le" in sample.labels:
                per_le = bounds.setdefault(name[: -len("_bucket")], {})
                le = float(sample.labels["le"])
                per_le[le] = per_le.get(le, 0.0) + value
                continue
            snap.values[name] = snap.values.get(name, 0.0) + value
            snap.n_series[name] = snap.n_series.get(name, 0) + 1
    snap.buckets = {name: sorted(per_le.items()) for name, per_le in bounds.items()}
    return snap
