"""Warm-up: the flag's grammar, which records are warm-up, books merging it exactly."""

from __future__ import annotations

import pytest

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.summary import build_summary
from llm_load.core.metrics.warmup import Warmup, WarmupError, parse_warmup


@pytest.mark.parametrize(
    ("text", "parsed"), [("", (0.0, 0)), ("30s", (30.0, 0)), ("2m", (120.0, 0)), ("20", (0.0, 20))]
)
def test_parse_warmup(text, parsed):
    assert parse_warmup(text) == parsed


def test_bad_warmup_is_named():
    with pytest.raises(WarmupError, match="'ten'"):
        parse_warmup("ten")


def rec(t: float) -> RequestRecord:
    return RequestRecord(model="m", started_at=t, e2e_s=0.5, ttft_s=0.1, output_tokens=4)


def test_time_and_count_windows():
    by_time = Warmup(duration_s=2.0)
    by_time.start(100.0)
    assert [by_time.takes(rec(t)) for t in (100.5, 101.9, 102.0, 103)] == [True, True, False, False]
    by_count = Warmup(requests=2)
    by_count.start(100.0)
    assert [by_count.takes(rec(t)) for t in (100, 101, 102)] == [True, True, False]
    assert by_count.until == 101.5  # when the last warm-up call ended


def test_warmup_merges_and_leaves_totals():
    a, b = MetricsBook(), MetricsBook()
    a.add_warmup(rec(100.0), 101.0)
    b.add_warmup(rec(100.2), 102.0)
    b.add(rec(103.0))
    merged = MetricsBook()
    for part in (a, b):
        merged.merge(MetricsBook.from_dict(part.to_dict()))
    s = build_summary(merged, started_at=100.0, duration_s=12.0, target="t", settings={})
    assert s["totals"]["requests"] == 1 and s["warmup"] == {
        "requests": 2, "ended_s": 2.0, "measured_s": 10.0
    }  # fmt: skip
    assert s["totals"]["requests_per_s"] == pytest.approx(0.1)
    assert sum(p["requests"] for p in s["timeseries"]["points"]) == 3
