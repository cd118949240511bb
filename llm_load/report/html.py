"""The self-contained HTML report of one run: `render_html(summary) -> str`.

One file that opens with no network: uPlot's JS and CSS (vendored in `report/vendor/`) and
our own script and style (`report/assets/`) are inlined. Sections: the headline table per
model, the saturation curve (output tokens/s and TTFT p99 vs active users) with the
server's queue vs users right under it, the server panel (`--server-metrics`), throughput,
latency, users and failures over time with stages marked, latency percentiles, errors with
the server's own messages, tool-call accuracy, thresholds, stages and run settings. Charts
need a `timeseries` (newer summaries); everything else renders from any `llm-load/summary/v1`
file. All chart data sits in one `<script type="application/json" id="llm-data">` blob
(`llm_load.report.charts.chart_data`). Every text from the summary is HTML-escaped.
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

from llm_load.core.wire.endpoint import redact
from llm_load.report.capacity_html import capacity_section
from llm_load.report.charts import PERCENTILE_TICKS, chart_data, saturation_note
from llm_load.report.rows import (
    TOTAL,
    display_row,
    fmt_int,
    fmt_ms,
    fmt_num,
    fmt_pct,
    has_tools,
    model_rows,
    stat,
    tool_calls,
)
from llm_load.report.server import server_note, server_tables
from llm_load.report.server_charts import server_charts

__all__ = ["Raw", "badge", "html_page", "html_table", "json_script", "render_html"]

_DISTRIBUTIONS = (("ttft_ms", "TTFT"), ("itl_ms", "ITL"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E"))


@cache
def _asset(name: str) -> str:
    package = files("llm_load.report")
    text = package.joinpath(name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():  # pragma: no cover - vendor guard
        raise ValueError(f"{name} cannot be inlined: it contains a closing tag")
    return text


def json_script(data: Any, element_id: str) -> str:
    """`data` as a JSON `<script>` element that no string inside it can break out of."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return f'<script type="application/json" id="{escape(element_id)}">{text}</script>'


class Raw(str):
    """A table cell that is already HTML (built here from escaped parts)."""


def _cell(value: object, text: bool) -> str:
    content = value if isinstance(value, Raw) else escape(str(value))
    return f'<td class="text">{content}</td>' if text else f"<td>{content}</td>"


def html_table(
    headers: list[str], rows: list[list[str]], *, total_last: bool = False, text: tuple = ()
) -> str:
    """A table of formatted texts (escaped here unless `Raw`); the first column is a label,
    columns whose index is in `text` are left-aligned prose."""
    head = "".join(
        f'<th class="text">{escape(h)}</th>' if j in text else f"<th>{escape(h)}</th>"
        for j, h in enumerate(headers)
    )
    body = []
    for i, row in enumerate(rows):
        cls = ' class="total"' if total_last and i == len(rows) - 1 and len(rows) > 1 else ""
        cells = "".join(_cell(c, j in text) for j, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def badge(text: str, cls: str) -> Raw:
    return Raw(f'<span class="badge {escape(cls)}">{escape(text)}</span>')


def html_page(title: str, body: str, *, charts: dict[str, Any] | None = None) -> str:
    """A complete page; with `charts` it embeds the data blob, uPlot and our script."""
    style = _asset("assets/report.css")
    scripts = ""
    if charts is not None:
        style = _asset("vendor/uPlot.min.css") + "\n" + style
        scripts = (
            json_script(charts, "llm-data")
            + f"\n<script>{_asset('vendor/uPlot.iife.min.js')}</script>"
            + f"\n<script>{_asset('assets/report.js')}</script>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{style}</style></head>\n"
        f"<body>\n{body}\n{scripts}\n</body></html>\n"
    )


def _section(title: str, content: str, section_id: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>\n{content}</section>\n'


def _header(summary: dict[str, Any]) -> str:
    settings = summary.get("settings") or {}
    facts = [
        ("target", summary.get("target")),
        ("scenario", settings.get("scenario")),
        ("started", summary.get("started_at")),
        ("duration", f"{summary.get('duration_s') or 0:.1f} s"),
    ]
    spans = "".join(
        f"<span>{escape(k)}: <b>{escape(str(v))}</b></span>" for k, v in facts if v is not None
    )
    out = f'<h1>llm-load report</h1>\n<p class="facts">{spans}{_verdict(summary)}</p>\n'
    if summary.get("interrupted"):
        out += '<p class="warn">The run was interrupted: the numbers cover it up to then.</p>\n'
    if lost := summary.get("workers_lost"):
        out += f'<p class="warn">Workers lost during the run: {escape(str(lost))} '
        out += "(counted up to their last report).</p>\n"
    return out


def _verdict(summary: dict[str, Any]) -> str:
    if not summary.get("thresholds"):
        return '<span class="muted">no thresholds</span>'
    ok = bool(summary.get("passed"))
    cls, text = ("pass", "thresholds passed") if ok else ("fail", "thresholds FAILED")
    return f'<span class="badge {cls}">{text}</span>'


def _headline(summary: dict[str, Any]) -> str:
    tools = has_tools(summary)
    rows, headers = [], ["Model"]
    for name, metrics in model_rows(summary, always_total=False):
        headers[1:], cells = display_row(metrics, tools=tools)
        rows.append([name, *cells])
    caption = (
        '<p class="muted">Latencies in ms (client-measured). Error % of requests; usage '
        "estimated % = requests whose token counts were counted from chunks, not reported.</p>"
    )
    return html_table(headers, rows, total_last=True) + caption


def _chart_divs(charts: list[dict[str, Any]], kinds: tuple[str, ...]) -> str:
    divs = [
        f'<div class="chart{" wide" if c["kind"] == "saturation" else ""}" '
        f'id="chart-{escape(c["id"])}" data-chart="{escape(c["id"])}"></div>'
        for c in charts
        if c["kind"] in kinds
    ]
    return f'<div class="charts">{"".join(divs)}</div>\n' if divs else ""


def _percentiles(summary: dict[str, Any]) -> str:
    headers = ["Model", "Metric", *PERCENTILE_TICKS, "mean", "count"]
    rows = []
    for name, m in model_rows(summary, always_total=False):
        for dist, label in _DISTRIBUTIONS:
            if stat(m, dist, "count"):
                values = [fmt_ms(stat(m, dist, t)) for t in (*PERCENTILE_TICKS, "mean")]
                rows.append([name, label, *values, fmt_int(stat(m, dist, "count"))])
    return html_table(headers, rows) if rows else '<p class="muted">No latency samples.</p>'


def _errors(summary: dict[str, Any]) -> str:
    errors = summary.get("errors") or []
    if not errors:
        return '<p class="muted">No errors.</p>'
    requests = (summary.get("totals") or {}).get("requests") or 0
    rows = [
        [str(e.get("kind")), fmt_int(e.get("count")),
         fmt_pct(e.get("count", 0) / requests) if requests else "-", str(e.get("example", ""))]
        for e in errors
    ]  # fmt: skip
    headers = ["Kind", "Count", "% of requests", "Example (the server's message)"]
    return html_table(headers, rows, text=(3,))


def _tools(summary: dict[str, Any]) -> str:
    """Graded tool calls per model, wrong ones by kind, and the time to a complete call
    (`tool_call_ms`) when the summary has it."""
    graded = [(n, m, t) for n, m in model_rows(summary, always_total=False) if (t := tool_calls(m))]
    kinds = sorted({k for _, _, t in graded for k in (t.get("by_error") or {})})
    timed = any(stat(m, "tool_call_ms", "count") for _, m, _ in graded)
    rows = [
        [name, fmt_int(t.get("expected")), fmt_int(t.get("correct")), fmt_pct(t.get("accuracy")),
         *(fmt_int((t.get("by_error") or {}).get(k, 0)) for k in kinds),
         *((fmt_ms(stat(m, "tool_call_ms", "p50")), fmt_ms(stat(m, "tool_call_ms", "p99")))
           if timed else ())]
        for name, m, t in graded
    ]  # fmt: skip
    headers = ["Model", "Graded", "Correct", "Accuracy %", *kinds]
    headers += ["Complete call p50 ms", "Complete call p99 ms"] if timed else []
    return html_table(headers, rows, total_last=rows[-1][0] == TOTAL)


def _turns(summary: dict[str, Any]) -> str:
    """Multi-turn conversations, per turn: the history growing, the prefix cache serving it
    and the TTFT it gives (summary's `by_turn`)."""
    rows = [
        [str(turn), fmt_int(t.get("requests")), fmt_int(t.get("failures")),
         fmt_num(t.get("input_tokens_mean"), 0), fmt_num(t.get("cached_tokens_mean"), 0),
         fmt_pct(t.get("hit_ratio")), fmt_ms((t.get("ttft_ms") or {}).get("p50")),
         fmt_ms((t.get("ttft_ms") or {}).get("p99"))]
        for turn, t in (summary.get("by_turn") or {}).items()
    ]  # fmt: skip
    headers = ["Turn", "Requests", "Failures", "Prompt tokens (mean)", "Cached (mean)",
               "Cache hit %", "TTFT p50 ms", "TTFT p99 ms"]  # fmt: skip
    return html_table(headers, rows)


def _thresholds(summary: dict[str, Any]) -> str:
    rows = [
        [str(t.get("check")), "no data" if t.get("value") is None else f"{t['value']:.4g}",
         badge("PASS", "pass") if t.get("ok") else badge("FAIL", "fail")]
        for t in summary.get("thresholds") or []
    ]  # fmt: skip
    return html_table(["Check", "Observed", "Result"], rows)


def _settings(summary: dict[str, Any]) -> str:
    rows = []
    for key, value in sorted((summary.get("settings") or {}).items()):
        if key == "api_key" and isinstance(value, str) and "…" not in value and value[:1] != "(":
            value = redact(value)  # summaries are redacted already; never show a key anyway
        text = value if isinstance(value, str) else json.dumps(value)
        rows.append([str(key), text])
    rows.append(["schema", str(summary.get("schema"))])
    return html_table(["Setting", "Value"], rows, text=(1,))


def _stages(summary: dict[str, Any]) -> str:
    rows = [
        [str(s.get("index", i)), f"{s.get('start_s', 0):.1f}", str(s.get("label", ""))]
        for i, s in enumerate(summary.get("stages") or [])
    ]
    return html_table(["Stage", "Starts at (s)", "Label"], rows, text=(2,))


_NO_SERIES = "This summary has no time series (written by an older llm-load): no charts over time."
_ONE_LEVEL = (
    "The run kept one number of active users, so there is no saturation curve: run stages "
    "(e.g. scenarios/ramp.yaml) to see throughput and TTFT against concurrency."
)


def _note(text: str | None) -> str:
    return f'<p class="note">{escape(text)}</p>\n' if text else ""


def _charts_sections(summary: dict[str, Any], charts: list[dict[str, Any]]) -> str:
    """Saturation, then the server panel right under it, then the charts over time."""
    beside = any(c["id"] == "server-users" for c in charts)  # the reading goes by its chart
    server = _server_section(summary, charts, reading=not beside)
    if not any(c["kind"] == "time" for c in charts):
        over_time = f'<p class="muted">{_NO_SERIES}</p>\n'
        return server + _section("Over time", over_time, "over-time")
    if any(c["kind"] == "saturation" for c in charts):
        content = _note(saturation_note(summary)) + (_note(server_note(summary)) if beside else "")
        content += _chart_divs(charts, ("saturation",))
    else:
        content = f'<p class="muted">{_ONE_LEVEL}</p>\n'
    out = _section("Saturation", content, "saturation") + server
    return out + _section("Over time", _chart_divs(charts, ("time",)), "over-time")


def _server_section(
    summary: dict[str, Any], charts: list[dict[str, Any]], reading: bool = True
) -> str:
    """The server's own account (`--server-metrics`, per-request timings), if any."""
    server = summary.get("server")
    if not server:
        return ""
    errors = (server.get("scrape_errors") or {}).get("count", 0)
    facts = f"{server.get('family')} at {server.get('url')}: {server.get('samples', 0)} scrapes"
    content = f'<p class="muted">{escape(facts)}{f", {errors} failed" if errors else ""}.</p>\n'
    content += _note(server_note(summary)) if reading else ""
    content += _chart_divs(charts, ("server",))
    content += "".join(html_table(headers, rows) for headers, rows in server_tables(summary))
    return _section("Server", content, "server")


def render_html(summary: dict[str, Any]) -> str:
    """The whole report page for one summary dict."""
    data = chart_data(summary)
    charts = data["charts"]  # the server's charts in page order: right after saturation
    after = sum(c["kind"] == "saturation" for c in charts)
    charts[after:after] = server_charts(summary)  # server-metrics hook
    body = _header(summary) + _section("Per model", _headline(summary), "models")
    if summary.get("capacity"):
        body += _section("Capacity", capacity_section(summary["capacity"]), "capacity")
    body += _charts_sections(summary, charts)
    latency = _chart_divs(data["charts"], ("percentiles",)) + _percentiles(summary)
    body += _section("Latency distributions", latency, "latency")
    body += _section("Errors", _errors(summary), "errors")
    if summary.get("by_turn"):
        body += _section("Conversation turns", _turns(summary), "turns")
    if has_tools(summary):
        body += _section("Tool-call accuracy", _tools(summary), "tools")
    if summary.get("thresholds"):
        body += _section("Thresholds", _thresholds(summary), "thresholds")
    if summary.get("stages"):
        body += _section("Stages", _stages(summary), "stages")
    body += _section("Run settings", _settings(summary), "settings")
    title = f"llm-load report: {summary.get('target', '')} {summary.get('started_at', '')}"
    return html_page(title, body, charts=data)
