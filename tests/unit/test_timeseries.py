"""TimeSeries: windows by completion time, exact merge, compaction, summary points."""

import json

import pytest

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.summary import build_summary
from llm_load.core.metrics.timeseries import TimeSeries

START = 1_800_000_000.0


def rec(done_at: float, *, ttft: float = 0.05, error: str | None = None, tokens: int = 10):
    """A record that completes `done_at` seconds after START (E2E 0.5 s)."""
    return RequestRecord(
        model="m",
        started_at=START + done_at - 0.5,
        e2e_s=0.5,
        ttft_s=ttft,
        output_tokens=tokens,
        error_kind=error,
        error_message="boom" if error else None,
    )


def test_calls_land_in_the_window_of_their_completion():
    series = TimeSeries(1.0)
    for done_at in (0.2, 0.7, 1.1, 3.9):
        series.add(rec(done_at))
    points = series.points(START)
    assert [p["t_s"] for p in points] == [1.0, 2.0, 4.0]
    assert [p["requests"] for p in points] == [2, 1, 1]
    assert points[0]["output_tokens_per_s"] == 20.0
    assert points[0]["ttft_ms"]["p50"] == pytest.approx(50, rel=0.01)


def test_errors_are_counted_by_kind_per_window():
    series = TimeSeries(2.0)
    series.add(rec(0.5, error="http_429"))
    series.add(rec(1.5, error="http_429"))
    series.add(rec(2.5, error="timeout"))
    first, second = series.points(START)
    assert (first["failures"], first["errors"]) == (2, {"http_429": 2})
    assert second["errors"] == {"timeout": 1}
    assert first["e2e_ms"] == {"p50": None, "p99": None}  # no successful call


def test_worker_series_merge_exactly_through_the_wire():
    whole, parts = TimeSeries(), [TimeSeries(), TimeSeries()]
    for i in range(300):
        r = rec(i * 0.037, ttft=0.01 + (i % 17) / 100)
        whole.add(r)
        parts[i % 2].add(r)
    merged = TimeSeries()
    for part in parts:
        merged.merge(TimeSeries.from_dict(json.loads(json.dumps(part.to_dict()))))
    assert merged.points(START) == whole.points(START)


def test_compacted_windows_keep_their_point_and_late_counts_still_add():
    series = TimeSeries(1.0)
    series.add(rec(0.5))
    before = series.points(START)
    series.compact(series.key(START + 1.0))
    assert series.windows == {} and series.points(START) == before
    late = TimeSeries(1.0)
    late.add(rec(0.6, error="http_500"))
    series.merge(late)
    (point,) = series.points(START)
    assert (point["requests"], point["failures"], point["errors"]) == (2, 1, {"http_500": 1})


def test_summary_points_carry_users_and_stage():
    book = MetricsBook()
    for done_at in (0.5, 1.5, 2.5, 3.5):
        book.add(rec(done_at))
    key = book.series.key
    users = {key(START + 0.5): 4, key(START + 1.5): 8, key(START + 2.5): 8}
    stages = [
        {"index": 0, "start_s": 0.0, "label": "4 users"},
        {"index": 1, "start_s": 2.0, "label": "8 users"},
    ]
    summary = build_summary(
        book, started_at=START, duration_s=4, target="t", settings={}, users=users, stages=stages
    )
    points = summary["timeseries"]["points"]
    assert [p["users"] for p in points] == [4, 8, 8, None]
    assert [p["stage"] for p in points] == [0, 0, 1, 1]
    assert summary["stages"] == stages and summary["timeseries"]["interval_s"] == 1.0


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match="interval_s"):
        TimeSeries(0)


def test_the_last_interval_cut_by_the_end_of_the_run_is_rated_on_its_part():
    book = MetricsBook()
    book.add(rec(0.5))
    book.add(rec(3.1))
    summary = build_summary(book, started_at=START, duration_s=3.25, target="t", settings={})
    first, last = summary["timeseries"]["points"]
    assert (first["t_s"], first["requests_per_s"]) == (1.0, 1.0)
    assert last["t_s"] == 3.25 and last["requests_per_s"] == pytest.approx(1 / 0.25)
