"""The capacity search's outputs: the HTML section (SVG chart, steps table) and the web UI
tab's rows, from a search run against a simulated 8-slot server."""

from __future__ import annotations

import re

from llm_load.core.capacity.spec import CapacitySpec
from llm_load.locust.capacity_webui import capacity_rows
from llm_load.report.capacity_html import capacity_section
from llm_load.report.html import render_html
from tests.unit.test_capacity_search import FakeServer, simulate


def capacity_summary() -> dict:
    spec = CapacitySpec(slo=["ttft_ms.p99 <= 100"], step_s=2, min_requests=20, settle_s=0.5)
    return simulate(spec, FakeServer(8, 0.4)).summary(2000.0)


def test_html_section_draws_each_step_the_limit_and_the_answer():
    capacity = capacity_summary()
    html = capacity_section(capacity)
    assert "Capacity: 8 concurrent users" in html and html.count("<svg") == 1
    dots = re.findall(r'<circle [^>]*fill="(#[0-9a-f]+)"', html)
    assert len(dots) == len(capacity["steps"])
    assert dots.count("#a01d1d") == sum(not s["passed"] for s in capacity["steps"])
    assert "limit 100 ms" in html and "answer 8 users" in html
    assert html.count("<tr>") == len(capacity["steps"]) + 1


def test_the_report_page_has_a_capacity_section_only_with_a_capacity_block():
    summary = {"schema": "llm-load/summary/v1", "totals": {}, "by_model": {}, "errors": []}
    assert 'id="capacity"' not in render_html(dict(summary))
    assert 'id="capacity"' in render_html(summary | {"capacity": capacity_summary()})


def test_web_ui_rows_show_the_search_then_each_step():
    capacity = capacity_summary()
    state = {"unit": "users", "phase": "done", "current_load": None, "answer": "Capacity: 8",
             "steps": capacity["steps"]}  # fmt: skip
    rows = capacity_rows(state)
    assert rows[0]["step"] == "search" and rows[0]["verdict"] == "done"
    assert [r["load"] for r in rows[1:]] == [f"{s['load']} users" if s["load"] != 1 else "1 user"
                                             for s in capacity["steps"]]  # fmt: skip
    assert rows[-1]["verdict"] == "PASS (confident)" and capacity_rows(None) == []
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)
