"""The book -> Prometheus conversion: exact bucket counts at the snapped bounds, counters equal
to the summary, and text that Prometheus' own parser reads back."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.histogram import LogHistogram
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.slo import SLO
from llm_load.observe.prometheus import (
    BOUNDS_S,
    WANTED_S,
    LLMCollector,
    Snapshot,
    cumulative_buckets,
)


def test_bounds_are_bucket_edges_near_the_wanted_ones() -> None:
    assert len(BOUNDS_S) == len(WANTED_S) and list(BOUNDS_S) == sorted(BOUNDS_S)
    for wanted, bound in zip(WANTED_S, BOUNDS_S, strict=True):
        assert abs(bound - wanted) <= wanted / 64  # a bucket is at most 1/64 of its edge wide
    assert {0.001, 0.005, 0.01, 0.05, 0.1} <= set(BOUNDS_S)  # edges as they are


@pytest.mark.parametrize("seed", range(5))
def test_bucket_counts_are_exact_counts_below_each_bound(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(4, 2) for _ in range(3000)] + [0.0, 0.05, 7e5]
    values += [b * 1000 * f for b in BOUNDS_S for f in (0.999, 1.001)]  # near each bound
    hist = LogHistogram()
    for value in values:
        hist.record(value)
    buckets = cumulative_buckets(hist)
    assert buckets[-1] == ("+Inf", float(len(values)))
    for (le, count), bound in zip(buckets, BOUNDS_S, strict=False):
        assert float(le) == bound
        assert count == sum(1 for v in values if v < bound * 1000), le


def record(model: str, ok: bool = True, cancelled: bool = False, ttft: float = 40.0):
    first = ttft / 1000
    return RequestRecord(
        model=model,
        started_at=0.0,
        e2e_s=first + 0.06,
        ttft_s=first,
        token_times_s=tuple(first + 0.004 * i for i in range(16)),
        output_tokens=16,
        input_tokens=9,
        usage_reported=True,
        cancelled=cancelled,
        error_kind=None if ok else "http_503",
        error_message=None if ok else "busy",
        tool_grade="correct" if ok and model == "b" else None,
    )


def scrape(book: MetricsBook, users: int | None = 3, in_flight: int | None = 2) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LLMCollector(lambda: Snapshot(book, users, in_flight)))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_and_histograms_equal_the_summary() -> None:
    book = MetricsBook()
    book.slo = SLO.of("ttft_ms <= 50")
    for i in range(40):
        book.add(record("a", ok=i % 5 != 0, ttft=30.0 + i))
    for _ in range(7):
        book.add(record("b"))
    book.add(record("b", cancelled=True))
    samples = scrape(book)
    for model, metrics in book.by_model.items():
        s = metrics.summary(10.0, book.slo)
        label = (("model", model),)
        for name in ("requests", "failures", "cancelled", "input_tokens", "output_tokens"):
            assert samples[(f"llm_load_{name}_total", label)] == s[name]
        assert samples[("llm_load_good_requests_total", label)] == s["goodput"]["good"]
        assert samples[("llm_load_ttft_seconds_count", label)] == s["ttft_ms"]["count"]
        total_s = s["ttft_ms"]["mean"] * s["ttft_ms"]["count"] / 1000
        assert samples[("llm_load_ttft_seconds_sum", label)] == pytest.approx(total_s)
    assert samples[("llm_load_errors_total", (("kind", "http_503"),))] == 8
    assert samples[("llm_load_tool_calls_total", (("grade", "correct"), ("model", "b")))] == 7
    assert samples[("llm_load_users", ())] == 3
    assert samples[("llm_load_in_flight_requests", ())] == 2


def test_no_slo_no_goodput_and_unknown_gauges_left_out() -> None:
    book = MetricsBook()
    book.add(record("a"))
    names = {name for name, _ in scrape(book, users=None, in_flight=None)}
    assert "llm_load_requests_total" in names
    assert not names & {"llm_load_good_requests_total", "llm_load_users"}


def reasoning_record(model: str, cached: int, reasoning: int, ttfo: float):
    """A call whose usage said `cached` prompt tokens came from the cache and `reasoning` of
    its output tokens were reasoning; its first answer token came at `ttfo` ms."""
    return replace(
        record(model), cached_tokens=cached, reasoning_tokens=reasoning, ttfo_s=ttfo / 1000
    )


def test_time_to_first_output_cached_and_reasoning_tokens_equal_the_summary() -> None:
    book = MetricsBook()
    for i in range(20):
        book.add(reasoning_record("r", cached=16 * (i % 3), reasoning=5, ttfo=100.0 + i))
    samples = scrape(book)
    s, label = book.by_model["r"].summary(10.0), (("model", "r"),)
    assert samples[("llm_load_cached_tokens_total", label)] == s["cached_tokens"] == 16 * 19
    assert samples[("llm_load_reasoning_tokens_total", label)] == s["reasoning"]["tokens"] == 100
    assert samples[("llm_load_ttfo_seconds_count", label)] == s["ttfo_ms"]["count"] == 20
    assert samples[("llm_load_ttfo_seconds_sum", label)] == pytest.approx(
        sum(range(100, 120)) / 1000
    )
