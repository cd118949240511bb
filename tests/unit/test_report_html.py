"""The HTML report's structure (`render_html`): tables with the fixture's numbers, the
embedded chart data, escaping and self-containment. Pixels are checked in
`tests/integration/test_report_html.py` with a real browser."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from llm_load.report.charts import chart_data
from llm_load.report.html import render_html

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "summaries"
HOSTILE = '</script><script>alert("x")</script><b>&amp;'


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class Page(HTMLParser):
    """Tables by section id (cell texts), chart containers, scripts and external links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.chart_ids: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self.external: list[str] = []
        self.texts: list[str] = []
        self._section = ""
        self._script: dict | None = None
        self._in_cell = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("id") or ""
        elif tag == "table":
            self.tables.setdefault(self._section, []).append([])
        elif tag == "tr":
            self.tables[self._section][-1].append([])
        elif tag in ("td", "th"):
            self.tables[self._section][-1][-1].append("")
            self._in_cell = True
        elif tag == "div" and "data-chart" in a:
            self.chart_ids.append(a["data-chart"] or "")
        elif tag == "script":
            self._script = a
            self.scripts.append((a, ""))
        for name in ("src", "href"):
            if a.get(name):
                self.external.append(a[name] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None
        elif tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
            return
        self.texts.append(data)
        if self._in_cell:
            self.tables[self._section][-1][-1][-1] += data

    def table(self, section: str, index: int = 0) -> list[dict[str, str]]:
        header, *rows = self.tables[section][index]
        return [dict(zip(header, row, strict=True)) for row in rows]

    def data(self) -> dict:
        (text,) = [t for a, t in self.scripts if a.get("id") == "llm-data"]
        return json.loads(text)


@pytest.fixture(scope="module")
def ramp_page() -> Page:
    return Page(render_html(fixture("ramp-report")))


@pytest.fixture(scope="module")
def mix_page() -> Page:
    return Page(render_html(fixture("mix-run")))


def test_per_model_table_has_the_fixture_numbers(mix_page):
    rows = mix_page.table("models")
    assert [r["Model"] for r in rows] == ["mock-llm", "mock-llm-slow", "(all)"]
    fast, slow, total = rows
    assert (fast["Requests"], fast["Failures"], fast["Error %"]) == ("150", "19", "13")
    assert (fast["Req/s"], fast["TTFT p50"], fast["TTFT p90"], fast["TTFT p99"]) == (
        "18.65", "40.2", "47.0", "48.2")  # fmt: skip
    assert (fast["ITL p50"], fast["ITL p99"], fast["TPOT p50"]) == ("4.3", "5.8", "4.0")
    assert (fast["E2E p50"], fast["E2E p99"], fast["Output tok/s"]) == ("164", "177", "527.4")
    assert fast["Usage estimated %"] == "13"
    assert (slow["Requests"], slow["TTFT p99"], slow["E2E p50"]) == ("44", "96.7", "586")
    assert (total["Requests"], total["Failures"], total["Output tok/s"]) == ("194", "25", "843.8")
    assert "Tool accuracy %" not in fast


def test_single_model_has_no_totals_row_but_tool_accuracy(ramp_page):
    (row,) = ramp_page.table("models")
    assert row["Model"] == "mock-llm" and row["Requests"] == "6,056" and row["Failures"] == "27"
    assert row["Tool accuracy %"] == "80" and row["Output tok/s"] == "9,735.0"
    (tools,) = ramp_page.table("tools")
    assert tools == {"Model": "mock-llm", "Graded": "120", "Correct": "96", "Accuracy %": "80",
                     "invalid_json": "15", "wrong_function": "9"}  # fmt: skip


def test_errors_thresholds_stages_and_settings(mix_page, ramp_page):
    (error,) = mix_page.table("errors")
    assert list(error.values()) == ["http_403", "25", "13", "Prompt blocked for security reasons"]
    assert list(error)[-1] == "Example (the server's message)"
    checks = mix_page.table("thresholds")
    assert [(c["Check"], c["Observed"], c["Result"]) for c in checks] == [
        ("error_rate < 0.01", "0.1289", "FAIL"),
        ("ttft_ms.p99@mock-llm < 500", "48.2", "PASS"),
        ("ttft_ms.p99@mock-llm-slow < 1000", "96.67", "PASS"),
    ]
    assert "thresholds FAILED" in mix_page.texts
    stages = ramp_page.table("stages")
    assert [(s["Starts at (s)"], s["Label"]) for s in stages][-1] == ("30.0", "ramp to 128 users")
    settings = {r["Setting"]: r["Value"] for r in ramp_page.table("settings")}
    assert settings["scenario"] == "ramp" and settings["schema"] == "llm-load/summary/v1"
    assert settings["thresholds"] == '["error_rate < 0.01"]'


def test_latency_percentile_table(mix_page):
    rows = mix_page.table("latency")
    slow_e2e = next(r for r in rows if r["Model"] == "mock-llm-slow" and r["Metric"] == "E2E")
    assert (slow_e2e["p50"], slow_e2e["p99"], slow_e2e["max"], slow_e2e["count"]) == (
        "586", "606", "606", "38")  # fmt: skip
    assert {r["Metric"] for r in rows} == {"TTFT", "ITL", "TPOT", "E2E"}


def test_embedded_chart_data_and_one_container_per_chart(ramp_page, mix_page):
    summary = fixture("ramp-report")
    data = ramp_page.data()
    assert data == json.loads(json.dumps(chart_data(summary)))
    assert ramp_page.chart_ids == [c["id"] for c in data["charts"]]
    saturation = data["charts"][0]
    assert saturation["id"] == "saturation" and len(saturation["x"]) == 40
    assert mix_page.chart_ids == ["dist-ttft_ms", "dist-itl_ms", "dist-e2e_ms"]
    assert any("no time series" in t for t in mix_page.texts)


def test_the_page_is_self_contained(ramp_page):
    assert ramp_page.external == []  # no <script src>, <link href>, images
    scripts = [a for a, _ in ramp_page.scripts]
    assert scripts == [{"type": "application/json", "id": "llm-data"}, {}, {}]
    code = ramp_page.scripts[1][1]
    assert code.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")


def test_summary_texts_are_escaped_and_the_data_blob_cannot_be_closed():
    summary = fixture("ramp-report")
    summary["by_model"] = {HOSTILE: summary["by_model"]["mock-llm"]}
    summary["errors"][0]["example"] = HOSTILE
    summary["stages"][1]["label"] = HOSTILE
    summary["settings"]["api_key"] = "sk-live-0123456789abcdef"
    html = render_html(summary)
    assert HOSTILE not in html and "<script>alert" not in html
    assert html.count("<script") == 3 and html.count("</script>") == 3
    page = Page(html)
    assert page.table("models")[0]["Model"] == HOSTILE
    assert page.table("errors")[0]["Example (the server's message)"] == HOSTILE
    marks = page.data()["charts"][1]["marks"]
    assert marks[1]["label"] == HOSTILE
    assert "sk-live-0123456789abcdef" not in html
    settings = {r["Setting"]: r["Value"] for r in page.table("settings")}
    assert settings["api_key"] == "sk-…cdef"


def test_a_minimal_summary_still_renders():
    summary = {"schema": "llm-load/summary/v1", "totals": {}, "by_model": {}}
    page = Page(render_html(summary))
    (row,) = page.table("models")
    assert row["Model"] == "(all)" and set(row.values()) == {"(all)", "-"}
    assert page.data()["charts"] == []


def test_constant_users_explain_the_missing_saturation_curve():
    summary = fixture("ramp-report")
    for p in summary["timeseries"]["points"]:
        p["users"] = 8
    page = Page(render_html(summary))
    assert "saturation" not in page.chart_ids and "throughput" in page.chart_ids
    assert any("one number of active users" in t for t in page.texts)


def test_tool_table_shows_the_time_to_a_complete_call_when_known():
    summary = fixture("ramp-report")
    call = {"count": 120, "mean": 300.0, "p50": 290.0, "p90": 350.0, "p95": 380.0, "p99": 1234.5}
    summary["by_model"]["mock-llm"]["tool_call_ms"] = {**call, "max": 1500.0}
    (tools,) = Page(render_html(summary)).table("tools")
    assert tools["Complete call p50 ms"] == "290" and tools["Complete call p99 ms"] == "1,234"


def test_conversation_turns_table_from_by_turn():
    summary = fixture("ramp-report")
    assert "turns" not in Page(render_html(summary)).tables  # single requests: no section
    ttft = {"count": 48, "p50": 20.5, "p99": 131.25}
    summary["by_turn"] = {
        "1": {"requests": 48, "failures": 0, "input_tokens_mean": 384.0,
              "cached_tokens_mean": 245.3, "hit_ratio": 0.639, "ttft_ms": ttft},
        "2": {"requests": 40, "failures": 1, "input_tokens_mean": 558.0,
              "cached_tokens_mean": None, "hit_ratio": None, "ttft_ms": {"count": 0}},
    }  # fmt: skip
    first, second = Page(render_html(summary)).table("turns")
    assert first == {
        "Turn": "1", "Requests": "48", "Failures": "0", "Prompt tokens (mean)": "384",
        "Cached (mean)": "245", "Cache hit %": "64", "TTFT p50 ms": "20.5",
        "TTFT p99 ms": "131",
    }  # fmt: skip
    assert (second["Failures"], second["Cached (mean)"], second["TTFT p50 ms"]) == ("1", "-", "-")
