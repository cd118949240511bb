"""A run's server metrics: scrapes in, per-interval points and run totals out.

`ServerSeries.add(snapshot)` takes each scrape in time order; the family is recognised on
the first one. Between two consecutive scrapes one point is made: the gauges as read at its
end (`running`, `waiting`, `kv_cache_usage` 0–1), counter rates (`generated_tokens_per_s`,
`prompt_tokens_per_s`), the prefix-cache hit rate of the interval (hits / queries deltas,
or the server's own gauge), `preemptions` in it, and for each server histogram (TTFT, ITL,
E2E, queue time) the interval's count and p50/p99 in ms from the bucket deltas. Totals are
the deltas between the first and the last scrape, so they count what the server did during
the run. Names asked for with `--server-metric` are kept raw (sum over label sets) for any
family, and are all there is for an unknown one. Only the first and last snapshots and the
small points are kept.
"""

from __future__ import annotations

from typing import Any

from llm_load.core.server.families import UNKNOWN, Family, detect_family
from llm_load.core.server.histogram import bucket_delta, quantile, quantile_bucket
from llm_load.core.server.prometheus import Snapshot

__all__ = ["ServerSeries"]

PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


class ServerSeries:
    """Scrapes of one server during one run (epoch-second times)."""

    def __init__(self, wanted: tuple[str, ...] = ()) -> None:
        self.wanted = wanted
        self.family: Family | None = None
        self.first: Snapshot | None = None
        self.last: Snapshot | None = None
        self.points: list[dict[str, Any]] = []

    @property
    def samples(self) -> int:
        """Scrapes taken (the first is the baseline, each later one makes a point)."""
        return len(self.points) + (self.first is not None)

    def add(self, snap: Snapshot) -> None:
        if self.family is None:
            self.family = detect_family(snap)
        if self.first is None:
            self.first = snap
        elif self.last is not None:
            self.points.append(self._point(self.last, snap))
        self.last = snap

    def _point(self, old: Snapshot, new: Snapshot) -> dict[str, Any]:
        family = self.family or UNKNOWN
        dt = max(new.t_s - old.t_s, 1e-9)
        point: dict[str, Any] = {"t": new.t_s}
        for key, names in family.gauges.items():
            name = family.pick(new, names)
            if name is not None:
                point[key] = new.mean(name) if key.endswith(("usage", "rate")) else new.values[name]
        deltas = counter_deltas(family, old, new)
        for key in ("generated_tokens", "prompt_tokens"):
            if key in deltas:
                point[key + "_per_s"] = deltas[key] / dt
        if "preemptions" in deltas:
            point["preemptions"] = deltas["preemptions"]
        hit_rate = _hit_rate(deltas)
        if hit_rate is not None:
            point["prefix_cache_hit_rate"] = hit_rate
        point.update(histogram_stats(family, old, new, ("p50", "p99")))
        if self.wanted:
            point["raw"] = {name: new.values.get(name) for name in self.wanted}
        return point

    def totals(self) -> dict[str, Any]:
        """Counter deltas and histogram statistics over the whole run."""
        family, first, last = self.family or UNKNOWN, self.first, self.last
        if first is None or last is None or first is last:
            return {}
        totals: dict[str, Any] = dict(counter_deltas(family, first, last))
        hit_rate = _hit_rate(totals)
        if hit_rate is not None:
            totals["prefix_cache_hit_rate"] = hit_rate
        totals.update(
            histogram_stats(family, first, last, tuple(PERCENTILES), mean=True, bounds=True)
        )
        return totals

    def series(self) -> dict[str, dict[str, float]]:
        """Each numeric point series over the run: mean, max and last value."""
        out: dict[str, dict[str, float]] = {}
        keys = [k for k in dict.fromkeys(k for p in self.points for k in p) if k != "t"]
        for key in keys:
            values = [p[key] for p in self.points if isinstance(p.get(key), int | float)]
            if values:
                out[key] = {
                    "mean": sum(values) / len(values),
                    "max": max(values),
                    "last": values[-1],
                }
        return out

    def raw(self) -> dict[str, dict[str, float | None]]:
        """The `--server-metric` names: first, last and delta over the run, and the max."""
        first, last = self.first, self.last
        out: dict[str, dict[str, float | None]] = {}
        for name in self.wanted:
            a = first.values.get(name) if first else None
            b = last.values.get(name) if last else None
            seen = [v for p in self.points if (v := p["raw"].get(name)) is not None]
            out[name] = {
                "first": a,
                "last": b,
                "delta": b - a if a is not None and b is not None else None,
                "max": max(seen) if seen else b,
            }
        return out


def counter_deltas(family: Family, old: Snapshot, new: Snapshot) -> dict[str, float]:
    """Each of the family's counters present in both scrapes: `new - old` (or `new` after
    a counter reset, i.e. a server restart)."""
    out: dict[str, float] = {}
    for key, names in family.counters.items():
        name = family.pick(new, names)
        if name is None or name not in old.values:
            continue
        delta = new.values[name] - old.values[name]
        out[key] = delta if delta >= 0 else new.values[name]
    return out


def _hit_rate(deltas: dict[str, float]) -> float | None:
    queries = deltas.get("prefix_cache_queries")
    if queries:
        return deltas.get("prefix_cache_hits", 0.0) / queries
    prompt, cached = deltas.get("prompt_tokens"), deltas.get("prompt_tokens_cached")
    if prompt and cached is not None:  # llama.cpp: cached prompt tokens of all prompt tokens
        return cached / (prompt + cached)
    return None


def histogram_stats(
    family: Family,
    old: Snapshot,
    new: Snapshot,
    stats: tuple[str, ...],
    mean: bool = False,
    bounds: bool = False,
) -> dict[str, dict[str, Any]]:
    """Per server histogram: the count between the scrapes and percentiles in ms (with
    `bounds`, also `<stat>_bucket`: [lower, upper] ms of the bucket each one lies in)."""
    out: dict[str, dict[str, Any]] = {}
    for key, names in family.histograms.items():
        name = family.pick(new, names, histogram=True)
        if name is None:
            continue
        delta = bucket_delta(new.buckets[name], old.buckets.get(name))
        count = delta[-1][1] if delta else 0.0
        entry: dict[str, Any] = {"count": count}
        for stat in stats:
            value = quantile(delta, PERCENTILES[stat])
            entry[stat] = None if value is None else value * 1000.0
            if bounds and (bucket := quantile_bucket(delta, PERCENTILES[stat])) is not None:
                entry[stat + "_bucket"] = [bucket[0] * 1000.0, bucket[1] * 1000.0]
        if mean:
            total = new.values.get(name + "_sum", 0.0) - old.values.get(name + "_sum", 0.0)
            entry["mean"] = total * 1000.0 / count if count > 0 else None
        out[key] = entry
    return out
