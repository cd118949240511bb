"""The `server` block of summary.json, the per-point `server` blocks, and the TTFT split.

`server_summary` gives `{family, url, samples, series, totals, scrape_errors}` (plus `raw`
for `--server-metric` names and a `note` when the family was not recognised).
`add_server_points` puts each server point into the time-series point whose interval it
ends in (the last one wins). `ttft_split` compares the client's TTFT with the server's:
per request when responses carried server timings (`outside_ms`, see `timings`), else the
client percentiles against the server histogram's over the same run.
"""

from __future__ import annotations

from typing import Any

from llm_load.core.server.series import ServerSeries

__all__ = ["add_server_points", "server_summary", "split_line", "ttft_split"]


def server_summary(series: ServerSeries, url: str, scrape_errors: dict[str, int]) -> dict[str, Any]:
    """The `server` object of summary.json; `scrape_errors` counts failures by reason."""
    family = series.family.name if series.family else "unknown"
    out: dict[str, Any] = {
        "family": family,
        "url": url,
        "samples": series.samples,
        "series": series.series(),
        "totals": series.totals(),
        "scrape_errors": {"count": sum(scrape_errors.values()), "reasons": dict(scrape_errors)},
    }
    if series.wanted:
        out["raw"] = series.raw()
    if family == "unknown" and series.samples:
        out["note"] = "family not recognised: only the --server-metric names are kept"
    return out


def add_server_points(
    timeseries: dict[str, Any], points: list[dict[str, Any]], started_at: float
) -> None:
    """Give each time-series point the `server` block of the scrape ending in it. The
    sampler scrapes just after each window's end, so a scrape up to `late` s after a point's
    end still closes that point (its deltas cover that window), not the next one."""
    interval = float(timeseries.get("interval_s") or 1.0)
    late = min(0.15, interval / 5)
    rows = timeseries.get("points") or []
    for server_point in points:
        t_s = server_point["t"] - started_at
        for row in rows:
            if row["t_s"] - interval + late < t_s <= row["t_s"] + late:
                row["server"] = {k: v for k, v in server_point.items() if k != "t"}
                break


def ttft_split(totals: dict[str, Any], server: dict[str, Any] | None) -> dict[str, Any] | None:
    """Client TTFT vs the server's own, at p50 and p99 and as means (ms), or None with
    nothing to pair."""
    client = totals.get("ttft_ms") or {}
    outside = totals.get("outside_ms") or {}
    if outside.get("count"):
        own = totals.get("server_ttft_ms") or {}
        source = "per-request"
    else:
        own = ((server or {}).get("totals") or {}).get("ttft_ms") or {}
        source = "histogram"
        outside = {}
    if not client.get("count") or own.get("p50") is None:
        return None
    split: dict[str, Any] = {"source": source}
    for stat in ("p50", "p99"):
        c, s = client.get(stat), own.get(stat)
        gap = outside.get(stat) if outside else (c - s if c is not None and s is not None else None)
        split[stat] = {"client_ms": c, "server_ms": s, "outside_ms": gap}
        bucket = own.get(stat + "_bucket") if not outside else None
        if bucket and c is not None:
            split[stat].update(_bucket_gap(c, bucket))
    c, s = client.get("mean"), own.get("mean")
    if c is not None and s is not None:  # exact from a histogram too (its _sum / _count)
        gap = outside.get("mean") if outside else c - s
        split["mean"] = {"client_ms": c, "server_ms": s, "outside_ms": gap}
    return split


def _bucket_gap(client_ms: float, bucket: list[float]) -> dict[str, Any]:
    """A server histogram knows its percentile only as a bucket (vLLM's TTFT: 40-60 ms,
    100-250 ms, ...): the time outside the server lies between the client's value minus the
    bucket's upper and lower bounds (never below 0); the interpolated midpoint can even
    exceed the client's own value."""
    lower, upper = bucket
    return {
        "server_bucket_ms": [lower, upper],
        "outside_ms": max(0.0, client_ms - upper),
        "outside_max_ms": max(0.0, client_ms - lower),
    }


def split_line(split: dict[str, Any] | None) -> str | None:
    """One console line: client vs server TTFT and the time spent outside the server."""
    if not split:
        return None
    parts = []
    for stat in ("mean", "p50", "p99"):
        row = split.get(stat)
        if row is None:
            continue
        if row["client_ms"] is None or row["server_ms"] is None:
            continue
        outside = row["outside_ms"]
        gap = f", outside {outside:.1f}" if outside is not None else ""
        if "outside_max_ms" in row:
            lower, upper = row["server_bucket_ms"]
            gap = (
                f", outside {outside:.1f}–{row['outside_max_ms']:.1f}"
                f" (server histogram bucket {lower:g}–{upper:g})"
            )
        parts.append(f"{stat} client {row['client_ms']:.1f} / server {row['server_ms']:.1f}{gap}")
    if not parts:
        return None
    return f"TTFT split ({split['source']}, ms): " + "; ".join(parts)
