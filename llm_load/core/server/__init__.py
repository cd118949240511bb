"""The server's own account of a run: Prometheus scrapes and per-request server timings."""

from llm_load.core.server.families import FAMILIES, Family, detect_family
from llm_load.core.server.prometheus import Snapshot, parse_snapshot
from llm_load.core.server.series import ServerSeries
from llm_load.core.server.summary import add_server_points, server_summary, split_line, ttft_split
from llm_load.core.server.timings import server_cached_tokens, server_times

__all__ = [
    "FAMILIES",
    "Family",
    "ServerSeries",
    "Snapshot",
    "add_server_points",
    "detect_family",
    "parse_snapshot",
    "server_cached_tokens",
    "server_summary",
    "server_times",
    "split_line",
    "ttft_split",
]
