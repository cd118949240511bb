"""The "LLM server" tab of the web UI: the server's own live values (`--server-metrics`).

One row from the summary's `server` block: the family, the latest scrape's requests running
and waiting, KV-cache use, generated tokens/s and prefix-cache hit rate, how many scrapes
and failed scrapes, and the run's TTFT split at p50 (client / server / outside, ms).
`TAB_ARGS` holds the tab and table for `web_ui.template_args`; `server_stats(summary)` the
`extended_stats` entry.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SERVER_TAB", "TAB_ARGS", "server_stats"]

SERVER_TAB = "llm-server"
# (row key, column title, series name in server.series, scale, decimals)
LIVE = (
    ("running", "Running", "running", 1, 0),
    ("waiting", "Waiting", "waiting", 1, 0),
    ("kv_pct", "KV-cache %", "kv_cache_usage", 100, 2),
    ("generated_per_s", "Generated tok/s", "generated_tokens_per_s", 1, 1),
    ("prefix_hit_pct", "Prefix-cache hit %", "prefix_cache_hit_rate", 100, 1),
)
TABLE = [
    {"key": "family", "title": "Server (latest scrape)"},
    *({"key": key, "title": title} for key, title, _, _, _ in LIVE),
    {"key": "samples", "title": "Scrapes"},
    {"key": "scrape_errors", "title": "Failed scrapes"},
    {"key": "ttft_split", "title": "TTFT p50 client / server / outside ms"},
]
TAB_ARGS: dict[str, dict[str, Any]] = {
    "tab": {"title": "LLM server", "key": SERVER_TAB},
    "table": {"key": SERVER_TAB, "structure": TABLE},
}


def _num(value: Any, decimals: int) -> Any:
    return "-" if not isinstance(value, int | float) else round(value, decimals)


def server_stats(summary: dict[str, Any]) -> dict[str, Any]:
    """The tab's `extended_stats` entry (no row while nothing is scraped)."""
    server = summary.get("server") or {}
    if not server.get("url"):
        return {"key": SERVER_TAB, "data": []}
    series = server.get("series") or {}
    row: dict[str, Any] = {"name": "00000", "family": server.get("family") or "-"}
    for key, _, name, scale, decimals in LIVE:
        last = (series.get(name) or {}).get("last")
        row[key] = _num(last * scale if isinstance(last, int | float) else None, decimals)
    row["samples"] = server.get("samples", 0)
    row["scrape_errors"] = (server.get("scrape_errors") or {}).get("count", 0)
    p50 = (server.get("ttft_split") or {}).get("p50") or {}
    parts = [str(_num(p50.get(k), 1)) for k in ("client_ms", "server_ms", "outside_ms")]
    if "outside_max_ms" in p50:  # the server's side known as a histogram bucket only
        parts[2] += f"–{_num(p50['outside_max_ms'], 1)}"
    row["ttft_split"] = " / ".join(parts) if p50 else "-"
    return {"key": SERVER_TAB, "data": [row]}
