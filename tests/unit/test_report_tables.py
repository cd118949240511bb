"""The per-model table as CSV (`render_csv`) and the Markdown summary (`render_markdown`),
from recorded summaries (see `tests/fixtures/summaries/augment.py`)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from llm_load.report.markdown import md_cell, render_markdown
from llm_load.report.rows import COLUMNS
from llm_load.report.table_csv import render_csv

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "summaries"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def csv_rows(summary: dict) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(render_csv(summary), newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def md_tables(text: str) -> list[list[list[str]]]:
    """Every GFM table of `text` as rows of cell texts (the alignment row dropped)."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if not set(line) <= set("|:- "):
                current.append(cells)
        else:
            current = None
    return tables


# -- CSV ------------------------------------------------------------------------------------
def test_csv_rows_per_model_and_totals_with_the_summary_values():
    summary = fixture("mix-run")
    rows = csv_rows(summary)
    assert [r["model"] for r in rows] == ["mock-llm", "mock-llm-slow", "(all)"]
    for row, metrics in zip(rows, [*summary["by_model"].values(), summary["totals"]], strict=True):
        assert int(row["requests"]) == metrics["requests"]
        assert int(row["failures"]) == metrics["failures"]
        assert int(row["cancelled"]) == metrics["cancelled"]
        assert float(row["error_rate"]) == pytest.approx(metrics["error_rate"], rel=1e-9)
        assert float(row["requests_per_s"]) == pytest.approx(metrics["requests_per_s"], rel=1e-9)
        assert float(row["ttft_p99_ms"]) == pytest.approx(metrics["ttft_ms"]["p99"], rel=1e-9)
        assert float(row["itl_p50_ms"]) == pytest.approx(metrics["itl_ms"]["p50"], rel=1e-9)
        assert float(row["tpot_p50_ms"]) == pytest.approx(metrics["tpot_ms"]["p50"], rel=1e-9)
        assert float(row["e2e_p50_ms"]) == pytest.approx(metrics["e2e_ms"]["p50"], rel=1e-9)
        assert int(row["output_tokens"]) == metrics["output_tokens"]
        share = metrics["usage_estimated"] / metrics["requests"]
        assert float(row["usage_estimated_share"]) == pytest.approx(share, rel=1e-9)
        assert row["tool_calls_expected"] == row["tool_accuracy"] == ""  # no tool traffic
    assert rows[0]["requests"] == "150" and rows[2]["e2e_p99_ms"] == "604.8"


def test_csv_single_model_still_has_a_totals_row_and_tool_columns():
    rows = csv_rows(fixture("ramp-report"))
    assert [r["model"] for r in rows] == ["mock-llm", "(all)"]
    assert rows[0]["tool_calls_expected"] == "120" and rows[0]["tool_calls_correct"] == "96"
    assert rows[0]["tool_accuracy"] == "0.8" and rows[0]["failures"] == "27"


def test_csv_of_a_non_streaming_run_leaves_missing_latencies_empty():
    summary = fixture("mix-run")
    for metrics in (*summary["by_model"].values(), summary["totals"]):
        del metrics["ttft_ms"]
        metrics["itl_ms"] = {"count": 0, "p50": None, "p99": None}
    rows = csv_rows(summary)
    assert {r["ttft_p50_ms"] for r in rows} == {""} and {r["itl_p99_ms"] for r in rows} == {""}
    assert rows[0]["e2e_p50_ms"] == "164"


# -- Markdown -------------------------------------------------------------------------------
def test_markdown_model_table_errors_and_thresholds():
    text = render_markdown(fixture("mix-run"))
    assert text.startswith("### llm-load run summary\n")
    assert "thresholds **FAILED**" in text and "scenario `model-mix`" in text
    models, errors, thresholds = md_tables(text)
    header, *rows = models
    assert header[:5] == ["Model", "Requests", "Failures", "Error %", "Req/s"]
    cells = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert list(cells) == ["mock-llm", "mock-llm-slow", "(all)"]
    assert cells["mock-llm"]["TTFT p99"] == "48.2" and cells["mock-llm"]["Requests"] == "150"
    assert cells["mock-llm-slow"]["E2E p50"] == "586" and cells["(all)"]["Failures"] == "25"
    assert errors == [["Kind", "Count", "Example"],
                      ["http\\_403", "25", "Prompt blocked for security reasons"]]  # fmt: skip
    assert thresholds[1] == ["error\\_rate \\< 0.01", "0.1289", "FAIL"]
    assert "Tool" not in text


def test_markdown_with_tools_and_the_saturation_sentence():
    text = render_markdown(fixture("ramp-report"))
    models, _errors, tools, _thresholds = md_tables(text)
    assert models[0][-1] == "Tool accuracy %" and models[1][-1] == "80"
    assert tools[1] == ["mock-llm", "120", "96", "80", "invalid\\_json 15, wrong\\_function 9"]
    assert "Throughput levels off at about 48 users" in text


def test_markdown_cells_cannot_break_the_table():
    summary = fixture("mix-run")
    summary["errors"][0]["example"] = "bad | pipe\nnew line `code` " + "x" * 300
    text = render_markdown(summary)
    (row,) = md_tables(text)[1][1:]
    assert len(row) == 3 and row[2].startswith("bad \\| pipe new line \\`code\\` xxx")
    assert row[2].endswith("…") and len(row[2]) < 230
    assert md_cell("") == " " and md_cell("a_b*c") == "a\\_b\\*c"
