"""A "Capacity" tab on Locust's web UI page: the search's state and its steps, live.

Like the LLM tab (`llm_load.locust.webui`), it rides on Locust's own polling: an
`after_request` hook adds one `extended_stats` entry to `/stats/requests` responses, keeping
any others. The first row is the search as a whole (phase of the current step, answer so
far); then one row per decided step. Numbers are the summary's `capacity` block.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flask import Response, request

from llm_load.core.capacity.text import load_text

if TYPE_CHECKING:
    from llm_load.locust.capacity import CapacityProbe

__all__ = ["attach_capacity_ui", "capacity_rows"]

log = logging.getLogger("llm_load")
TAB = "llm-capacity"
TABLE = [
    {"key": "step", "title": "Step"},
    {"key": "load", "title": "Load"},
    {"key": "requests", "title": "Requests"},
    {"key": "requests_per_s", "title": "Req/s"},
    {"key": "ttft_p99", "title": "TTFT p99 ms"},
    {"key": "tpot_p99", "title": "TPOT p99 ms"},
    {"key": "e2e_p99", "title": "E2E p99 ms"},
    {"key": "goodput_pct", "title": "Goodput %"},
    {"key": "error_pct", "title": "Error %"},
    {"key": "verdict", "title": "Verdict"},
    {"key": "reason", "title": "Reason"},
]


def attach_capacity_ui(environment: Any, probe: CapacityProbe) -> None:
    """Add the tab (a no-op without a web UI); call it at Locust's `init`."""
    web_ui = environment.web_ui
    if web_ui is None or any(t.get("key") == TAB for t in web_ui.template_args.get(
            "extended_tabs") or []):  # fmt: skip
        return
    base = getattr(environment.parsed_options, "web_base_path", None) or ""

    def add_rows(response: Response) -> Response:
        if request.path == base + "/stats/requests" and response.status_code == 200:
            _extend(response, probe)
        return response

    web_ui.app.after_request(add_rows)
    tabs = web_ui.template_args.get("extended_tabs") or []
    tables = web_ui.template_args.get("extended_tables") or []
    web_ui.template_args["extended_tabs"] = [*tabs, {"title": "Capacity", "key": TAB}]
    web_ui.template_args["extended_tables"] = [*tables, {"key": TAB, "structure": TABLE}]


def _extend(response: Response, probe: CapacityProbe) -> None:
    body = response.get_json(silent=True)
    if not isinstance(body, dict):
        return
    try:
        rows = capacity_rows(probe.state())
    except Exception:  # a broken tab must not break Locust's own statistics polling
        log.exception("llm-load: could not build the web UI's capacity rows")
        return
    others = [e for e in body.get("extended_stats") or [] if e.get("key") != TAB]
    body["extended_stats"] = [*others, {"key": TAB, "data": rows}]
    response.set_data(json.dumps(body))


def _ms(step: dict[str, Any], metric: str) -> Any:
    value = (step.get(metric) or {}).get("p99")
    return "-" if value is None else round(value, 1)


def capacity_rows(state: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The tab's rows from `CapacityProbe.state()` (None: no search yet)."""
    if state is None:
        return []
    unit = state["unit"]
    head = {key["key"]: "" for key in TABLE}
    head.update(step="search", load=load_text(state.get("current_load"), unit),
                verdict=state["phase"], reason=state["answer"])  # fmt: skip
    rows = [head]
    for step in state["steps"]:
        goodput = step["goodput"]
        rows.append({
            "step": step["step"], "load": load_text(step["load"], unit),
            "requests": step["requests"], "requests_per_s": round(step["requests_per_s"], 2),
            "ttft_p99": _ms(step, "ttft_ms"), "tpot_p99": _ms(step, "tpot_ms"),
            "e2e_p99": _ms(step, "e2e_ms"),
            "goodput_pct": "-" if goodput is None else round(100 * goodput, 1),
            "error_pct": round(100 * step["error_rate"], 2),
            "verdict": ("PASS" if step["passed"] else "FAIL") + f" ({step['decided']})",
            "reason": step["reason"],
        })  # fmt: skip
    for index, row in enumerate(rows):  # the UI sorts by `name`: keep our order
        row["name"] = f"{index:05d}"
    return rows
