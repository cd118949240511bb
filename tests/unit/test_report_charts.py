"""Chart data of the HTML report (`llm_load.report.charts`) from recorded summaries.

`ramp-report.json` is a real ramp run with SYNTHETIC time series added by
`tests/fixtures/summaries/augment.py` (a pretend server that saturates at 40 streams);
`mix-run.json` is an untouched two-model run without time series (an older file).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from statistics import median

import pytest

from llm_load.report.charts import chart_data, saturation_levels, saturation_note
from tests.fixtures.summaries.augment import augment

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "summaries"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def ramp() -> dict:
    return fixture("ramp-report")


def charts_by_id(summary: dict) -> dict[str, dict]:
    return {c["id"]: c for c in chart_data(summary)["charts"]}


def series(chart: dict, label: str) -> dict:
    (found,) = [s for s in chart["series"] if s["label"] == label]
    return found


def test_the_augmented_fixture_is_what_the_script_makes():
    assert augment(fixture("ramp-run")) == fixture("ramp-report")


def test_chart_list_with_a_time_series(ramp):
    data = chart_data(ramp)
    assert [c["id"] for c in data["charts"]] == [
        "saturation", "throughput", "ttft", "users", "e2e-itl", "errors",
        "dist-ttft_ms", "dist-itl_ms", "dist-e2e_ms",
    ]  # fmt: skip
    assert data["interval_s"] == 1.0
    for chart in data["charts"]:
        assert all(len(s["values"]) == len(chart["x"]) for s in chart["series"]), chart["id"]


def test_saturation_curve_is_tokens_per_s_against_users_for_every_point(ramp):
    chart = charts_by_id(ramp)["saturation"]
    points = sorted(ramp["timeseries"]["points"], key=lambda p: (p["users"], p["t_s"]))
    assert len(chart["x"]) == len(points) == 40
    assert chart["x"] == [p["users"] for p in points]
    assert chart["x"] == sorted(chart["x"])
    tokens = series(chart, "output tok/s")
    assert tokens["values"] == [p["output_tokens_per_s"] for p in points]
    assert tokens["style"] == "points" and tokens["scale"] == "y"
    ttft = series(chart, "TTFT p99")
    assert ttft["values"] == [p["ttft_ms"]["p99"] for p in points] and ttft["scale"] == "y2"
    # the median line: one value at the first point of each user count, null elsewhere
    medians = series(chart, "median output tok/s per user count")["values"]
    levels = sorted({p["users"] for p in points})
    expected = {
        u: median(p["output_tokens_per_s"] for p in points if p["users"] == u) for u in levels
    }
    firsts = [i for i, p in enumerate(points) if i == 0 or points[i - 1]["users"] != p["users"]]
    assert [i for i, v in enumerate(medians) if v is not None] == firsts
    assert [medians[i] for i in firsts] == [expected[u] for u in levels]


def test_saturation_levels_and_note(ramp):
    levels = saturation_levels(ramp["timeseries"]["points"])
    assert [lv["users"] for lv in levels] == [8, 16, 24, 32, 48, 64, 96, 128]
    assert [lv["intervals"] for lv in levels] == [10, 1, 1, 8, 1, 9, 1, 9]
    top = [p for p in ramp["timeseries"]["points"] if p["users"] == 128]
    assert levels[-1]["ttft_p99_ms"] == median(p["ttft_ms"]["p99"] for p in top)
    note = saturation_note(ramp)
    assert note is not None and "levels off at about 48 users" in note
    assert "13,582 tok/s at 48 users" in note and "988 ms at 128 users" in note
    low = median(p["output_tokens_per_s"] for p in ramp["timeseries"]["points"] if p["users"] == 8)
    top = levels[-1]["output_tokens_per_s"] / 128
    assert note.endswith(
        f"Output per user fell from {low / 8:,.0f} to {top:,.0f} tok/s "
        f"({(top / (low / 8) - 1) * 100:+.0f} %) between 8 and 128 users."
    )


def test_note_says_so_when_throughput_never_levels_off(ramp):
    for p in ramp["timeseries"]["points"]:
        p["output_tokens_per_s"] = 100.0 * p["users"]
    note = saturation_note(ramp)
    assert note == (  # linear growth: no plateau and the same output per user throughout
        "No plateau: output tokens/s still grew at the highest user count "
        "(128 users, median 12,800 tok/s)."
    )


def test_time_charts_follow_the_points_and_mark_the_stages(ramp):
    charts = charts_by_id(ramp)
    points = ramp["timeseries"]["points"]
    times = [p["t_s"] for p in points]
    throughput = charts["throughput"]
    assert throughput["x"] == times and throughput["kind"] == "time"
    assert series(throughput, "requests/s")["values"] == [p["requests_per_s"] for p in points]
    assert series(throughput, "output tokens/s")["scale"] == "y2"
    assert series(charts["ttft"], "TTFT p99")["values"] == [p["ttft_ms"]["p99"] for p in points]
    assert series(charts["users"], "users")["values"] == [p["users"] for p in points]
    errors = charts["errors"]
    assert series(errors, "failures")["values"] == [p["failures"] for p in points]
    assert sum(series(errors, "http_429")["values"]) == 27
    marks = [(m["x"], m["label"]) for m in throughput["marks"]]
    assert marks == [(0.0, "ramp to 8 users"), (10.0, "ramp to 32 users"),
                     (20.0, "ramp to 64 users"), (30.0, "ramp to 128 users")]  # fmt: skip
    assert charts["saturation"]["marks"] == []


def test_an_older_summary_gets_only_latency_distributions():
    summary = fixture("mix-run")
    data = chart_data(summary)
    assert [c["id"] for c in data["charts"]] == ["dist-ttft_ms", "dist-itl_ms", "dist-e2e_ms"]
    assert data["interval_s"] is None
    ttft = data["charts"][0]
    assert ttft["x_ticks"] == ["p50", "p90", "p95", "p99", "max"] and ttft["x"] == [0, 1, 2, 3, 4]
    assert [s["label"] for s in ttft["series"]] == ["mock-llm", "mock-llm-slow", "(all)"]
    slow = summary["by_model"]["mock-llm-slow"]["ttft_ms"]
    assert series(ttft, "mock-llm-slow")["values"] == [slow[k] for k in ttft["x_ticks"]]
    assert saturation_note(summary) is None


def test_partial_points_users_missing_and_null_percentiles(ramp):
    points = copy.deepcopy(ramp["timeseries"]["points"][:3])
    for p in points:
        del p["users"], p["itl_ms"], p["e2e_ms"]
    points[1]["ttft_ms"] = {"p50": None, "p99": None}
    points[2]["output_tokens_per_s"] = float("nan")
    points.append({"users": 3})  # no t_s: ignored
    summary = {**ramp, "timeseries": {"interval_s": 1.0, "points": points}, "stages": []}
    charts = charts_by_id(summary)
    assert "saturation" not in charts and "users" not in charts and "e2e-itl" not in charts
    assert series(charts["ttft"], "TTFT p99")["values"][1] is None
    assert series(charts["throughput"], "output tokens/s")["values"][2] is None
    assert charts["ttft"]["marks"] == []
    json.dumps(chart_data(summary), allow_nan=False)  # the page's JSON.parse can read it


def test_one_user_count_gives_no_saturation_curve(ramp):
    for p in ramp["timeseries"]["points"]:
        p["users"] = 4
    charts = charts_by_id(ramp)
    assert "saturation" not in charts and "users" in charts
    assert saturation_note(ramp) is None
