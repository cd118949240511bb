"""The metric catalogue: every table's columns come from it, and `value` reads a summary
the way each table always has (leniently, tool numbers only when calls were graded)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from llm_load.core.metrics.catalogue import (
    ALL_MODELS,
    CATALOGUE,
    CONSOLE_COLUMNS,
    CSV_COLUMNS,
    GOODPUT_COLUMNS,
    REPORT_COLUMNS,
    TOOL_COLUMNS,
    WEB_COLUMNS,
    value,
)
from llm_load.locust.webui import TABLE, model_row
from llm_load.report.console import print_summary
from llm_load.report.rows import COLUMNS, display_row

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "summaries"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_every_view_names_catalogued_metrics_once():
    console = tuple(k for _, keys in CONSOLE_COLUMNS for k in keys)
    views = (CSV_COLUMNS, REPORT_COLUMNS, TOOL_COLUMNS, GOODPUT_COLUMNS, WEB_COLUMNS, console)
    for view in views:
        assert set(view) <= set(CATALOGUE) and len(set(view)) == len(view), view
    assert COLUMNS[1:] == CSV_COLUMNS  # the CSV header
    assert [c["key"] for c in TABLE[1:]] == [CATALOGUE[k].web_key for k in WEB_COLUMNS]
    assert all(CATALOGUE[k].web_key for k in WEB_COLUMNS)


def test_values_follow_the_catalogue_paths():
    m = fixture("mix-run")["by_model"]["mock-llm"]
    for key, metric in CATALOGUE.items():
        found = m
        for part in metric.path:
            found = found.get(part) if isinstance(found, dict) else None
        if metric.path and metric.path[0] != "tool_calls" and found is not None:
            assert value(m, key) == pytest.approx(found), key
    assert value(m, "usage_estimated_share") == pytest.approx(m["usage_estimated"] / m["requests"])


@pytest.mark.parametrize(
    ("metrics", "key", "expected"),
    [
        ({}, "ttft_p99_ms", None),  # an older, smaller summary: an empty cell
        ({"requests": 4, "failures": 1}, "error_rate", 0.25),  # no error_rate field
        ({"requests": 0, "usage_estimated": 0}, "usage_estimated_share", None),
        ({"tool_calls": {"expected": 0, "accuracy": 0.0}}, "tool_accuracy", None),
        ({"tool_calls": {"expected": 5, "accuracy": 0.8}}, "tool_accuracy", 0.8),
        ({"goodput": {"ratio": None}}, "goodput_ratio", None),
        ({"requests": True}, "requests", None),  # a bool is not a number
    ],
)
def test_value_is_lenient(metrics, key, expected):
    assert value(metrics, key) == expected


def test_reports_web_and_console_show_the_same_numbers_and_one_totals_label():
    summary = fixture("mix-run")
    totals = summary["totals"]
    headers, cells = display_row(totals, tools=False)
    assert headers[:4] == ["Requests", "Failures", "Error %", "Req/s"]
    row = model_row("all models", totals)
    assert row["requests"] == totals["requests"] == int(cells[0].replace(",", ""))
    assert row["ttft_p99"] == round(totals["ttft_ms"]["p99"], 1)
    out = io.StringIO()
    print_summary(summary, Console(file=out, width=100, highlight=False))
    (line,) = [text for text in out.getvalue().splitlines() if ALL_MODELS in text]
    assert f" {totals['requests']} " in line and cells[3] in line  # requests, req/s
