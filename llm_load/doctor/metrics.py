"""The doctor's look at the server's Prometheus `/metrics`: reachable, and which family.

Not a step (it never changes the verdict or the exit code): one `GET {scheme://host}/metrics`
with our key, parsed like `--server-metrics` does, and the family recognised
(`llm_load.core.server.families`). llama.cpp only serves it with `--metrics`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from llm_load.core.server.families import detect_family
from llm_load.core.server.prometheus import parse_snapshot
from llm_load.doctor.base import Target
from llm_load.plain_http import describe_error

__all__ = ["probe_metrics"]

HINT = "llama.cpp serves /metrics only with --metrics; SGLang with --enable-metrics"


def probe_metrics(t: Target) -> dict[str, Any]:
    """`{"url", "reachable", "family", "message"}` of the target's `/metrics`."""
    parts = urlsplit(t.base or t.url)
    url = f"{parts.scheme}://{parts.netloc}/metrics"
    out: dict[str, Any] = {"url": url, "reachable": False, "family": None}
    try:
        resp = t.request("GET", url)
    except requests.RequestException as exc:
        out["message"] = f"/metrics not reachable: {describe_error(exc, t.timeout)}"
        return out
    if resp.status_code != 200:
        out["message"] = f"/metrics answered {resp.status_code}: no server metrics ({HINT})"
        return out
    try:
        snapshot = parse_snapshot(resp.text, 0.0)
    except ValueError:
        out["message"] = "/metrics is not Prometheus text"
        return out
    family = detect_family(snapshot).name
    out.update(reachable=True, family=family if family != "unknown" else None)
    named = f"family {family}" if family != "unknown" else "family not recognised"
    out["message"] = f"/metrics reachable, {named} ({len(snapshot.names())} metrics)"
    return out
