"""The "LLM" tab of Locust's own web UI page, with the run's LLM summary, live.

`attach_web_ui(environment, run)` puts two tabs on the normal page `/` through Locust's
`web_ui.template_args` (`extended_tabs`, `extended_tables`, `extended_csv_files`): "LLM" (one
row per model plus "all models") and "LLM errors" (kind, count, example). Their rows ride on
Locust's own polling: an `after_request` hook adds them as `extended_stats` to
`/stats/requests`. The columns are the metric catalogue's `WEB_COLUMNS`
(`llm_load.core.metrics.catalogue`); the numbers are `run.summary()`, the same as
summary.json: the whole run since test start, or since Locust's "Reset stats", which resets
them too (on every worker as well; the time series is kept, see `LLMRun.reset_stats`).
`GET /llm/summary` returns that summary as JSON, `?download=1` as the file
`llm-summary.json`. Latencies are in ms, rates per second. The summary's settings are
redacted already; every payload sent from here is also scrubbed of the raw API key, in case
a server echoed it in an error message.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from llm_load.core.metrics.catalogue import CATALOGUE, WEB_COLUMNS, Metric, value
from llm_load.core.metrics.summary_types import plain
from llm_load.locust.webui_server import TAB_ARGS, server_stats

if TYPE_CHECKING:
    from llm_load.locust.run import LLMRun

__all__ = ["attach_web_ui"]

log = logging.getLogger("llm_load")
BLUEPRINT = "llm_load"
TAB, ERRORS_TAB = "llm", "llm-errors"
# The catalogue's totals label is "(all)"; this tab keeps the "all models" it always showed.
ALL_MODELS = "all models"


def _title(metric: Metric) -> str:
    return f"{metric.title} ms" if metric.unit == "ms" else metric.title


TABLE = [
    {"key": "model", "title": "Model (whole run)"},
    *({"key": CATALOGUE[k].web_key, "title": _title(CATALOGUE[k])} for k in WEB_COLUMNS),
]
ERRORS_TABLE = [
    {"key": "kind", "title": "Error kind (whole run)"},
    {"key": "count", "title": "Count"},
    {"key": "example", "title": "Example message"},
]
TEMPLATE_ARGS: dict[str, list[dict[str, Any]]] = {
    "extended_tabs": [
        {"title": "LLM", "key": TAB},
        {"title": "LLM errors", "key": ERRORS_TAB},
        TAB_ARGS["tab"],  # server-metrics hook
    ],
    "extended_tables": [
        {"key": TAB, "structure": TABLE},
        {"key": ERRORS_TAB, "structure": ERRORS_TABLE},
        TAB_ARGS["table"],  # server-metrics hook
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
        response = Response(_dumps(plain(run.summary()), run), mimetype="application/json")
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
        ours = extended_stats(plain(run.summary()))
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
    server = server_stats(summary)  # server-metrics hook: the "LLM server" tab
    return [{"key": TAB, "data": rows}, {"key": ERRORS_TAB, "data": errors}, server]


def model_row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """One table row from a METRICS object: ms latencies, per-second rates, % shares."""
    row: dict[str, Any] = {"model": name}
    for key in WEB_COLUMNS:
        metric = CATALOGUE[key]
        found = value(metrics, key)
        if found is None and key == "usage_estimated_share" and metrics["requests"] == 0:
            found = 0.0  # nothing sent yet: nothing estimated
        if found is not None and metric.unit == "share":
            found *= 100
        if found is None:
            row[metric.web_key] = "-"
        else:  # counts stay integers
            row[metric.web_key] = round(found, metric.decimals) if metric.decimals else round(found)
    return row


def _dumps(payload: dict[str, Any], run: LLMRun) -> str:
    """JSON text with the raw API key and secret header values replaced, wherever they
    might have crept in."""
    text = json.dumps(payload)
    for secret in run.settings.secrets:
        key = json.dumps(secret)[1:-1]  # as it appears inside JSON text
        text = text.replace(key, "[redacted]") if len(key) >= 4 else text
    return text
