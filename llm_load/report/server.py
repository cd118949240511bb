"""The server's own account in reports: console lines, a one-line reading and tables.

All from a summary's `server` block and the `server` block of each time-series point
(`llm_load.core.server`); a summary without them gives nothing. The reading says from which
user count requests queue on the server (waiting > 0), how far KV-cache use goes, and whether
the client's TTFT p99 is higher while the server queues. Pure: dicts in, text out.
"""

from __future__ import annotations

from typing import Any

from llm_load.core.server.families import FAMILIES
from llm_load.core.server.summary import split_line

__all__ = ["server_lines", "server_note", "server_points", "server_tables"]

SERIES_LABELS = {
    "running": "requests running",
    "waiting": "requests waiting",
    "kv_cache_usage": "KV-cache use (0-1)",
    "prefix_cache_hit_rate": "prefix-cache hit rate",
    "generated_tokens_per_s": "generated tokens/s",
    "prompt_tokens_per_s": "prompt tokens/s",
    "preemptions": "preemptions per interval",
}
WAITING_NAMES = {f.name: f.gauges["waiting"][0] for f in FAMILIES}  # family: its gauge
HISTOGRAM_LABELS = {"ttft_ms": "TTFT", "itl_ms": "ITL", "e2e_ms": "E2E", "queue_ms": "queue time"}


def _fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:,.{digits}f}"


def server_lines(summary: dict[str, Any]) -> list[str]:
    """Console lines: what the server said (family, queue, tokens) and the TTFT split."""
    server = summary.get("server") or {}
    lines = []
    if server.get("url"):
        series, totals = server.get("series") or {}, server.get("totals") or {}
        errors = (server.get("scrape_errors") or {}).get("count", 0)
        parts = [f"server ({server.get('family')}, {server.get('samples', 0)} scrapes"]
        parts[0] += f", {errors} failed)" if errors else ")"
        for key in ("running", "waiting"):
            if key in series:
                parts.append(f"{key} max {series[key]['max']:g}")
        if "kv_cache_usage" in series:
            parts.append(f"KV-cache max {series['kv_cache_usage']['max'] * 100:.2f} %")
        if "generated_tokens" in totals:
            ours = summary.get("totals", {}).get("output_tokens", 0)
            parts.append(f"generated {totals['generated_tokens']:,.0f} tokens (ours {ours:,})")
        lines.append(": ".join(parts[:1]) + ": " + ", ".join(parts[1:]) if parts[1:] else parts[0])
    line = split_line(server.get("ttft_split"))
    if line:
        lines.append(line)
    note = server_note(summary)
    if note:
        lines.append(note)
    return lines


def server_points(summary: dict[str, Any]) -> list[dict[str, Any]]:
    points = (summary.get("timeseries") or {}).get("points") or []
    return [p for p in points if isinstance(p.get("server"), dict)]


def _waiting(point: dict[str, Any]) -> float:
    value = point["server"].get("waiting")
    return value if isinstance(value, int | float) else 0


def _queue_onset(points: list[dict[str, Any]], family: str) -> str:
    """Where requests start to wait: the lowest user count held for more than one interval
    at which most intervals had waiting > 0 (a stray blip at a lower count, or a count passed
    through while users start or stop, does not count), else in how many intervals and from
    when."""
    queued = [p for p in points if _waiting(p) > 0]
    if not queued:
        return "requests never queued on the server (waiting stayed 0)"
    name = WAITING_NAMES.get(family)
    what = f"(waiting > 0, up to {max(map(_waiting, queued)):g}{f': {name}' if name else ''})"
    levels: dict[float, list[bool]] = {}
    for p in points:
        if isinstance(users := p.get("users"), int | float):
            levels.setdefault(users, []).append(_waiting(p) > 0)
    onset = next(
        (
            u
            for u, flags in sorted(levels.items())
            if len(flags) > 1 and 2 * sum(flags) > len(flags)
        ),
        None,
    )
    if onset is not None:
        return f"from {onset:g} users requests queue on the server {what}"
    first, users = queued[0], queued[0].get("users")
    at = f"{first['t_s']:g} s" + (f", {users:g} users" if isinstance(users, int | float) else "")
    return (
        f"requests queue on the server {what} in {len(queued)} of {len(points)} intervals, "
        f"first at {at}"
    )


def server_note(summary: dict[str, Any]) -> str | None:
    """One reading of the server panel, or None without per-point server data."""
    points = server_points(summary)
    if not points:
        return None
    server = summary.get("server") or {}
    parts = [_queue_onset(points, server.get("family", ""))]
    waited = ((server.get("series") or {}).get("waiting") or {}).get("max")
    if waited and not any(_waiting(p) > 0 for p in points):
        parts[0] = (
            f"no drawn interval shows a queue, but a scrape between them saw {waited:g} waiting"
        )
    scrapes = server.get("samples")
    if isinstance(scrapes, int) and len(points) < 0.9 * scrapes:  # more than the last one
        parts.append(
            f"{len(points)} of {scrapes} scrapes drawn (one per interval in which requests "
            "finished)"
        )
    kv = [p["server"]["kv_cache_usage"] for p in points if "kv_cache_usage" in p["server"]]
    if kv:
        parts.append(f"KV-cache use reaches {max(kv) * 100:.2f} %")
    note = "; ".join(parts)
    calm = _median_p99(_free_of_queue(points, summary))
    busy = _median_p99([p for p in points if _waiting(p) > 0])
    if calm is not None and busy is not None:
        note += f"; TTFT p99 {calm:,.0f} ms without a queue, {busy:,.0f} ms with one"
    return note + "."


def _free_of_queue(points: list[dict[str, Any]], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Intervals whose finished requests met no queue: no scrape showed one from the
    earliest start of those requests (the interval's start minus its E2E p99) to its end.
    A request finishing just after the queue drained waited in it."""
    interval = float((summary.get("timeseries") or {}).get("interval_s") or 1.0)
    queued_at = [p["t_s"] for p in points if _waiting(p) > 0]
    free = []
    for p in points:
        e2e = (p.get("e2e_ms") or {}).get("p99")
        since = p["t_s"] - interval - (e2e / 1000 if isinstance(e2e, int | float) else 0.0)
        if not any(since <= t <= p["t_s"] for t in queued_at):
            free.append(p)
    return free


def _median_p99(points: list[dict[str, Any]]) -> float | None:
    values = sorted(
        v for p in points if isinstance(v := (p.get("ttft_ms") or {}).get("p99"), int | float)
    )
    return values[len(values) // 2] if values else None


def server_tables(summary: dict[str, Any]) -> list[tuple[list[str], list[list[str]]]]:
    """(headers, rows) of the server panel's tables: series, counters, histograms, split."""
    server = summary.get("server") or {}
    series, totals = server.get("series") or {}, server.get("totals") or {}
    split = server.get("ttft_split")
    tables = [
        (
            ["Series", "mean", "max", "last"],
            [[label, *(_fmt(series[k][s], 3) for s in ("mean", "max", "last"))]
             for k, label in SERIES_LABELS.items() if k in series],
        ),
        (
            ["Over the run (server counters)", "delta"],
            [[k.replace("_", " "), _fmt(v, 3 if k.endswith("rate") else 0)]
             for k, v in totals.items() if not isinstance(v, dict)],
        ),
        (
            ["Server histogram (ms)", "count", "mean", "p50", "p90", "p99"],
            [[HISTOGRAM_LABELS.get(k, k), _fmt(v.get("count"), 0),
              *(_fmt(v.get(s)) for s in ("mean", "p50", "p90", "p99"))]
             for k, v in totals.items() if isinstance(v, dict)],
        ),
    ]  # fmt: skip
    if split:
        rows = [
            [stat, _fmt(row["client_ms"]), _fmt(row["server_ms"]), _outside(row)]
            for stat in ("mean", "p50", "p99")
            if (row := split.get(stat)) is not None
        ]
        tables.append(([f"TTFT split ({split['source']})", "client", "server", "outside"], rows))
    return [(headers, rows) for headers, rows in tables if rows]


def _outside(row: dict[str, Any]) -> str:
    """The time outside the server: a value, or a range when the server's side is only
    known as a histogram bucket."""
    if "outside_max_ms" in row:
        return f"{_fmt(row['outside_ms'])}–{_fmt(row['outside_max_ms'])}"
    return _fmt(row["outside_ms"])
