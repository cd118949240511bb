"""The "LLM" tab of Locust's own web UI page, with the run's LLM summary, live.

`attach_web_ui(environment, run)` puts two tabs on the normal page `/` through Locust's
`web_ui.template_args` (`extended_tabs`, `extended_tables`, `extended_csv_files`): "LLM" (one
row per model plus "all models") and "LLM errors" (kind, count, example). Their rows ride on
Locust's own polling: an `after_request` hook adds them as `extended_stats` to
`/stats/requests`. The numbers are `run.summary()`, the same as summary.json: the whole run
since test start (Locust's "Reset stats" does not reset them). `GET /llm/summary` returns that
summary as JSON, `?download=1` as the file `llm-summary.json`. Latencies are in ms, rates per
second. The summary's settings are redacted already; every payload sent from here is also
scrubbed of the raw API key, in case a server echoed it in an error message.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

if TYPE_CHECKING:
    from llm_load.locust.run import LLMRun

__all__ = ["attach_web_ui"]

log = logging.getLogger("llm_load")
BLUEPRINT = "llm_load"
TAB, ERRORS_TAB = "llm", "llm-errors"
ALL_MODELS = "all models"
# (row key, column title, path in a summary METRICS object, decimals)
COLUMNS: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("requests", "Requests", ("requests",), 0),
    ("failures", "Failures", ("failures",), 0),
    ("cancelled", "Cancelled", ("cancelled",), 0),
    ("requests_per_s", "Req/s", ("requests_per_s",), 2),
    ("ttft_p50", "TTFT p50 ms", ("ttft_ms", "p50"), 1),
    ("ttft_p90", "TTFT p90 ms", ("ttft_ms", "p90"), 1),
    ("ttft_p99", "TTFT p99 ms", ("ttft_ms", "p99"), 1),
    ("itl_mean", "ITL mean ms", ("itl_ms", "mean"), 2),
    ("itl_p99", "ITL p99 ms", ("itl_ms", "p99"), 2),
    ("tpot_p50", "TPOT p50 ms", ("tpot_ms", "p50"), 2),
    ("e2e_p50", "E2E p50 ms", ("e2e_ms", "p50"), 1),
    ("e2e_p99", "E2E p99 ms", ("e2e_ms", "p99"), 1),
    ("output_tokens_per_s", "Output tok/s", ("output_tokens_per_s",), 1),
)
TABLE = [
    {"key": "model", "title": "Model (whole run)"},
    *({"key": key, "title": title} for key, title, _, _ in COLUMNS),
    {"key": "usage_estimated_pct", "title": "Usage estimated %"},
    {"key": "error_pct", "title": "Error %"},
    {"key": "tool_accuracy_pct", "title": "Tool calls correct %"},
    {"key": "goodput_pct", "title": "Goodput % (met SLO)"},
]
ERRORS_TABLE = [
    {"key": "kind", "title": "Error kind (whole run)"},
    {"key": "count", "title": "Count"},
    {"key": "example", "title": "Example message"},
]
TEMPLATE_ARGS: dict[str, list[dict[str, Any]]] = {
    "extended_tabs": [{"title": "LLM", "key": TAB}, {"title": "LLM errors", "key": ERRORS_TAB}],
    "extended_tables": [
        {"key": TAB, "structure": TABLE},
        {"key": ERRORS_TAB, "structure": ERRORS_TABLE},
    ],
    "extended_csv_files": [
        {"href": "./llm/summary?download=1", "title": "Download LLM summary (llm-summary.json)"}
    ],
}


def attach_web_ui(environment: Any, run: LLMRun) -> None:
    """Add the LLM tabs, `/llm/summary` and the download link to the web UI (idempotent).

    A no-op without a web UI (headless runs, workers). Call it before the web server starts
    (Locust's `init` event), as Flask rejects new routes once it has served a request.
    """
    web_ui = environment.web_ui
    if web_ui is None or BLUEPRINT in web_ui.app.blueprints:
        return
    base = getattr(environment.parsed_options, "web_base_path", None) or ""
    blueprint = Blueprint(BLUEPRINT, __name__, url_prefix=base or None)

    @web_ui.auth_required_if_enabled
    def llm_summary() -> Response:
        response = Response(_dumps(run.summary(), run), mimetype="application/json")
        if request.args.get("download"):
            response.headers["Content-Disposition"] = "attachment; filename=llm-summary.json"
        return response

    def add_extended_stats(response: Response) -> Response:
        if request.path == base + "/stats/requests" and response.status_code == 200:
            _extend_stats_response(response, run)
        return response

    _hide_secret_defaults(web_ui)
    blueprint.add_url_rule("/llm/summary", "summary", llm_summary)
    web_ui.app.register_blueprint(blueprint)
    web_ui.app.after_request(add_extended_stats)
    for name, items in TEMPLATE_ARGS.items():
        others = [i for i in web_ui.template_args.get(name) or [] if i not in items]
        web_ui.template_args[name] = [*others, *items]


def _hide_secret_defaults(web_ui: Any) -> None:
    """Locust renders every form option's current value into the page, secret ones too:
    blank those after each refresh. An empty submitted key keeps the configured one
    (see `Settings.from_options`)."""
    update = web_ui.update_template_args

    def update_without_secrets() -> None:
        update()
        for option in (web_ui.template_args.get("extra_options") or {}).values():
            if option.get("is_secret"):
                option["default_value"] = ""

    web_ui.update_template_args = update_without_secrets
    update_without_secrets()


def _extend_stats_response(response: Response, run: LLMRun) -> None:
    """Put our rows into the `extended_stats` of a `/stats/requests` response, keeping others'."""
    body = response.get_json(silent=True)
    if not isinstance(body, dict):
        return
    try:
        ours = extended_stats(run.summary())
    except Exception:  # a broken LLM tab must not break Locust's own statistics polling
        log.exception("llm-load: could not build the web UI's LLM statistics")
        return
    keys = {entry["key"] for entry in ours}
    others = [e for e in body.get("extended_stats") or [] if e.get("key") not in keys]
    body["extended_stats"] = [*others, *ours]
    response.set_data(_dumps(body, run))


def extended_stats(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The `extended_stats` entries for both tabs, from a summary.json dict."""
    models = [*summary["by_model"].items(), (ALL_MODELS, summary["totals"])]
    rows = [model_row(name, m) for name, m in models]
    errors = [
        {"kind": e["kind"], "count": e["count"], "example": e["example"]} for e in summary["errors"]
    ]
    # The UI sorts rows by `name` by default: an index keeps our order ("all models" last).
    for entries in (rows, errors):
        for index, entry in enumerate(entries):
            entry["name"] = f"{index:05d}"
    return [{"key": TAB, "data": rows}, {"key": ERRORS_TAB, "data": errors}]


def model_row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """One table row from a METRICS object: ms latencies, per-second rates, % shares."""
    row: dict[str, Any] = {"model": name}
    for key, _, path, decimals in COLUMNS:
        value: Any = metrics
        for part in path:
            value = value[part]
        row[key] = "-" if value is None else round(value, decimals)
    requests = metrics["requests"]
    share = metrics["usage_estimated"] / requests if requests else 0.0
    row["usage_estimated_pct"] = round(100 * share, 1)
    row["error_pct"] = round(100 * metrics["error_rate"], 2)
    tools = metrics.get("tool_calls")
    row["tool_accuracy_pct"] = round(100 * tools["accuracy"], 1) if tools else "-"
    ratio = (metrics.get("goodput") or {}).get("ratio")
    row["goodput_pct"] = "-" if ratio is None else round(100 * ratio, 1)
    return row


def _dumps(payload: dict[str, Any], run: LLMRun) -> str:
    """JSON text with the raw API key and secret header values replaced, wherever they
    might have crept in."""
    text = json.dumps(payload)
    for secret in run.settings.secrets:
        key = json.dumps(secret)[1:-1]  # as it appears inside JSON text
        text = text.replace(key, "[redacted]") if len(key) >= 4 else text
    return text
