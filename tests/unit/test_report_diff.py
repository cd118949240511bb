"""Comparing two runs (`llm_load.report.diff`) on synthetic pairs: band edges, the better
direction of each metric, point metrics, missing data and models in one run only; and its
console, Markdown, HTML and CSV forms."""

from __future__ import annotations

import copy
import csv
import io

import pytest
from rich.console import Console

from llm_load.report.diff import METRICS, compare, compare_value
from llm_load.report.diff_render import (
    print_diff,
    render_diff_csv,
    render_diff_html,
    render_diff_md,
)
from llm_load.report.quantile_band import quantile_interval

BY_KEY = {m.key: m for m in METRICS}


def metrics(**overrides: float) -> dict:
    """A METRICS object with round numbers; `ttft_p99=...` style overrides."""
    m = {
        "requests": 1000, "failures": 10, "error_rate": 0.01, "cancelled": 0,
        "requests_per_s": 100.0, "output_tokens_per_s": 5000.0,
        "ttft_ms": {"p50": 100.0, "p99": 200.0}, "itl_ms": {"p50": 10.0, "p99": 20.0},
        "e2e_ms": {"p50": 1000.0, "p99": 2000.0},
    }  # fmt: skip
    for key, value in overrides.items():
        dist, _, stat = key.rpartition("_")
        if dist in ("ttft", "itl", "e2e"):
            m[f"{dist}_ms"][stat] = value
        else:
            m[key] = value
    return m


def summary(**models: dict) -> dict:
    total = copy.deepcopy(next(iter(models.values()))) if models else metrics()
    about = {"started_at": "2026-01-01T00:00:00Z", "target": "http://t", "duration_s": 10.0}
    return {"schema": "llm-load/summary/v1", "totals": total, "by_model": models, **about}


def verdict(key: str, a: float | None, b: float | None, **bands: float) -> str:
    return compare_value(BY_KEY[key], a, b, **bands)["verdict"]


@pytest.mark.parametrize(
    ("key", "a", "b", "expected"),
    [
        ("ttft_p99_ms", 200.0, 210.0, "same"),  # +5 %: on the band edge
        ("ttft_p99_ms", 200.0, 190.0, "same"),  # -5 %
        ("ttft_p99_ms", 200.0, 210.2, "worse"),  # +5.1 %: latency up
        ("ttft_p99_ms", 200.0, 189.8, "better"),
        ("itl_p50_ms", 10.0, 10.6, "worse"),
        ("e2e_p50_ms", 1000.0, 900.0, "better"),
        ("requests_per_s", 100.0, 105.0, "same"),
        ("requests_per_s", 100.0, 105.1, "better"),  # throughput up
        ("output_tokens_per_s", 5000.0, 4700.0, "worse"),
        ("error_rate", 0.01, 0.02, "same"),  # +1 point: on the edge
        ("error_rate", 0.01, 0.0205, "worse"),
        ("error_rate", 0.05, 0.0, "better"),
        ("error_rate", 0.001, 0.009, "same"),  # 9x relatively, but < 1 point
        ("tool_accuracy", 0.80, 0.85, "better"),
        ("tool_accuracy", 0.80, 0.70, "worse"),
        ("tool_accuracy", 0.80, 0.805, "same"),
    ],
)
def test_verdict_by_direction_and_band(key, a, b, expected):
    assert verdict(key, a, b) == expected


def test_bands_are_options():
    assert verdict("ttft_p99_ms", 200.0, 201.0, noise=0.0) == "worse"
    assert verdict("ttft_p99_ms", 200.0, 200.0, noise=0.0) == "same"
    assert verdict("ttft_p99_ms", 200.0, 280.0, noise=0.5) == "same"
    assert verdict("error_rate", 0.0, 0.001, rate_noise=0.0) == "worse"
    with pytest.raises(ValueError, match=">= 0"):
        compare(summary(), summary(), noise=-0.1)


def test_zero_baseline_and_missing_values():
    row = compare_value(BY_KEY["output_tokens_per_s"], 0.0, 50.0)
    assert row["verdict"] == "better" and row["delta_pct"] is None and row["delta"] == 50.0
    assert verdict("requests_per_s", 0.0, 0.0) == "same"
    assert verdict("ttft_p50_ms", 0.0, 5.0) == "worse"
    row = compare_value(BY_KEY["ttft_p50_ms"], None, 50.0)
    assert row["verdict"] == "n/a" and row["delta"] is None
    row = compare_value(BY_KEY["error_rate"], 0.10, 0.04)
    assert row["delta"] == pytest.approx(-0.06) and row["delta_pct"] is None


def test_compare_models_in_both_totals_and_models_in_one_run():
    a = summary(m1=metrics(), old=metrics())
    b = summary(m1=metrics(ttft_p99=300.0, output_tokens_per_s=6000.0), new=metrics())
    result = compare(a, b, labels=("a.json", "b.json"))
    assert [g["model"] for g in result["models"]] == ["m1", "(all)"]
    assert result["only_in_a"] == ["old"] and result["only_in_b"] == ["new"]
    rows = {r["metric"]: r for r in result["models"][0]["rows"]}
    assert list(rows) == [m.key for m in METRICS if m.key != "tool_accuracy"]  # neither has tools
    assert rows["ttft_p99_ms"]["verdict"] == "worse" and rows["ttft_p99_ms"]["delta_pct"] == 50.0
    assert rows["output_tokens_per_s"]["verdict"] == "better"
    assert rows["ttft_p50_ms"]["verdict"] == "same"
    # the totals (copies of the first model here) changed the same way
    assert result["verdicts"] == {"better": 2, "worse": 2, "same": 14, "n/a": 0}
    assert result["a"]["label"] == "a.json" and result["b"]["requests"] == 1000


def test_one_and_the_same_model_on_both_sides_has_no_totals_group():
    result = compare(summary(m1=metrics()), summary(m1=metrics(ttft_p99=300.0)))
    assert [g["model"] for g in result["models"]] == ["m1"]
    assert result["verdicts"] == {"better": 0, "worse": 1, "same": 8, "n/a": 0}
    two = compare(summary(m1=metrics()), summary(m2=metrics()))  # nothing in common: totals
    assert [g["model"] for g in two["models"]] == ["(all)"]


def test_tool_accuracy_in_one_run_only_is_not_judged():
    tools = {"tool_calls": {"expected": 10, "correct": 9, "accuracy": 0.9, "by_error": {}}}
    result = compare(summary(m=metrics(**{})), summary(m={**metrics(), **tools}))
    (row,) = [r for r in result["models"][0]["rows"] if r["metric"] == "tool_accuracy"]
    assert (row["a"], row["b"], row["verdict"]) == (None, 0.9, "n/a")


@pytest.fixture
def diff() -> dict:
    a = summary(m1=metrics(), gone=metrics())
    b = summary(m1=metrics(ttft_p99=300.0, error_rate=0.03))
    return compare(a, b, labels=("before.json", "after.json"))


def test_console_form_fits_100_columns_without_escape_codes(diff):
    out = io.StringIO()
    print_diff(diff, Console(file=out, width=100, highlight=False))
    text = out.getvalue()
    assert "\x1b[" not in text
    table = [line for line in text.splitlines() if line.startswith(("┃", "│", "┏", "└"))]
    assert table and all(len(line) <= 100 for line in table)
    assert any("TTFT p99" in line and "+50.0 %" in line and "worse" in line for line in table)
    assert any("error rate" in line and "+2.00 pt" in line and "worse" in line for line in table)
    assert "only in A (not compared): gone" in text and "A: before.json" in text


def test_markdown_html_and_csv_forms(diff):
    md = render_diff_md(diff)
    assert "| m1 | TTFT p99 | 200 | 300 | +50.0 % | worse |" in md
    assert "| m1 | error rate | 1 % | 3 % | +2.00 pt | worse |" in md
    assert "only in A (not compared): gone" in md
    html = render_diff_html(diff)
    assert '<span class="badge worse">worse</span>' in html and "<script" not in html
    rows = list(csv.DictReader(io.StringIO(render_diff_csv(diff))))
    ttft = next(r for r in rows if r["model"] == "m1" and r["metric"] == "ttft_p99_ms")
    assert ttft == {"model": "m1", "metric": "ttft_p99_ms", "unit": "ms", "a": "200", "b": "300",
                    "delta": "100", "delta_pct": "50", "verdict": "worse"}  # fmt: skip
    error = next(r for r in rows if r["model"] == "m1" and r["metric"] == "error_rate")
    assert error["unit"] == "share" and error["delta_pct"] == "" and error["b"] == "0.03"


def ttft(count: int, p99: float, p95: float = 170.0, top: float = 260.0) -> dict:
    dist = {"count": count, "p50": 100.0, "p90": 150.0, "p95": p95, "p99": p99, "max": top}
    return metrics() | {"ttft_ms": dist}


def ttft_p99_verdict(a: dict, b: dict) -> str:
    rows = compare(summary(m=a), summary(m=b))["models"][0]["rows"]
    return next(r for r in rows if r["metric"] == "ttft_p99_ms")["verdict"]


def test_a_tail_percentile_is_judged_by_its_sampling_interval():
    """A p99 over 200 requests is their 2nd largest: +15 % is noise there, not at 100,000."""
    assert ttft_p99_verdict(ttft(200, 200.0), ttft(200, 230.0)) == "same"
    # a p95 and a p99 both 40 % up over 100,000 requests: worse; a p99 up 15 % with the p95
    # unchanged: the top 5 % may sit anywhere between them, so the summary cannot tell
    shifted = ttft(100_000, 280.0, p95=240.0, top=320.0)
    assert ttft_p99_verdict(ttft(100_000, 200.0), shifted) == "worse"
    assert ttft_p99_verdict(shifted, ttft(100_000, 200.0)) == "better"
    assert ttft_p99_verdict(ttft(100_000, 200.0), ttft(100_000, 230.0)) == "same"
    assert ttft_p99_verdict(ttft(200, 200.0), ttft(200, 200.0)) == "same"


def test_quantile_interval():
    low, high = quantile_interval(ttft(200, 200.0)["ttft_ms"], 0.99)
    assert (low, high) == (170.0, 260.0)  # down to the p95, up to the maximum
    low, high = quantile_interval(ttft(10**6, 200.0)["ttft_ms"], 0.99)
    assert low == 170.0 and 200.0 < high < 202.0
    assert quantile_interval({"p99": 1.0, "max": 2.0}, 0.99) is None  # no count
    assert quantile_interval({"count": 5, "p99": 1.0}, 0.99) is None  # one known point
