"""The web UI's "Reset stats" in the book and the summary: totals, distributions, errors and
arrivals restart, the time series keeps every call and marks the intervals before it."""

from __future__ import annotations

import pytest

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.summary import build_summary


def rec(t: float, error: str | None = None) -> RequestRecord:
    return RequestRecord(
        model="m", started_at=t, e2e_s=0.5, ttft_s=0.1, output_tokens=4, error_kind=error
    )


def test_reset_keeps_the_series_and_counts_from_the_reset():
    book = MetricsBook()
    for t in (100.0, 101.0, 102.0):
        book.add(rec(t, error="http_503" if t == 101.0 else None))
    book.arrivals.add_sent(3.0)
    book.reset_stats(104.0)
    book.add_before_reset(rec(103.8))  # sent before the reset, finished after
    book.add(rec(104.5))
    book.add(rec(106.0))
    s = build_summary(book, started_at=100.0, duration_s=10.0, target="t", settings={})
    totals = s["totals"]
    assert totals["requests"] == 2 and totals["failures"] == 0 and s["errors"] == []
    assert totals["ttft_ms"]["count"] == 2 and totals["output_tokens"] == 8
    assert "arrivals" not in s  # the lag of arrivals before the reset is gone too
    assert s["stats_reset"] == {"at_s": 4.0, "measured_s": 6.0}
    assert totals["requests_per_s"] == pytest.approx(2 / 6.0)
    points = s["timeseries"]["points"]
    assert sum(p["requests"] for p in points) == 6 and sum(p["failures"] for p in points) == 1
    # intervals that began before the reset (4 s in) are marked; later ones are not
    assert [p["t_s"] for p in points if p.get("before_reset")] == [1.0, 2.0, 3.0]
    assert [p["t_s"] for p in points if not p.get("before_reset")] == [5.0, 6.0, 7.0]


def test_reset_after_the_warmup_and_a_fresh_book():
    book = MetricsBook()
    book.add_warmup(rec(100.0), 101.0)
    book.reset_stats(103.0)
    book.add(rec(103.5))
    s = build_summary(book, started_at=100.0, duration_s=5.0, target="t", settings={})
    assert "warmup" not in s and s["stats_reset"]["measured_s"] == 2.0
    book.reset()  # a new test: no reset mark, no series
    s = build_summary(book, started_at=200.0, duration_s=5.0, target="t", settings={})
    assert "stats_reset" not in s and s["timeseries"]["points"] == []


def test_the_reset_mark_stays_off_the_wire():
    book = MetricsBook()
    book.reset_stats(104.0)
    book.add(rec(105.0))
    merged = MetricsBook()
    merged.merge(MetricsBook.from_dict(book.to_dict()))
    assert merged.reset_at == 0.0 and merged.totals().requests == 1
