"""Replaying a book into OpenTelemetry instruments (the SDK's in-memory reader): bucket counts
and counts exact, sums within 1/128, only growth recorded, a reset book counted afresh."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs locust[otel]")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.histogram import LogHistogram
from llm_load.observe.buckets import BOUNDS_S, midpoint_ms
from llm_load.observe.otel import BookReplay
from tests.unit.test_observe_prometheus import reasoning_record, record


def points(reader: InMemoryMetricReader) -> dict:
    data = reader.get_metrics_data()
    return {
        (metric.name, tuple(sorted(point.attributes.items()))): point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    }


def test_midpoints_are_the_histograms_own() -> None:
    for index in (0, 1, 64, 65, 500, LogHistogram.NUM_BUCKETS - 2):
        hist = LogHistogram()
        hist.record(midpoint_ms(index))
        assert hist.to_dict()["counts"] == [[index, 1]]


def test_replay_is_exact_and_counts_growth_only() -> None:
    reader = InMemoryMetricReader()
    replay = BookReplay(MeterProvider(metric_readers=[reader]).get_meter("t"))
    book, rng = MetricsBook(), random.Random(1)
    ttfts = [rng.lognormvariate(3.5, 1) for _ in range(500)]
    for i, ttft in enumerate(ttfts):
        book.add(record("a", ok=i % 7 != 0, ttft=ttft))
        if i % 100 == 0:
            replay.replay(book, {"server.address": "h"})
    replay.replay(book, {"server.address": "h"})
    replay.replay(book, {"server.address": "h"})  # nothing new: nothing added
    got = points(reader)
    model = (("gen_ai.request.model", "a"), ("server.address", "h"))
    hist = got[("gen_ai.client.operation.time_to_first_chunk", model)]
    assert hist.count == 500 and list(hist.explicit_bounds) == list(BOUNDS_S)
    assert hist.sum == pytest.approx(sum(ttfts) / 1000, rel=1 / 128)
    for bound, count in zip(BOUNDS_S, hist.bucket_counts, strict=False):
        lower = ([0.0, *BOUNDS_S])[BOUNDS_S.index(bound)]
        assert count == sum(1 for t in ttfts if lower <= t / 1000 < bound)
    assert got[("llm_load.client.requests", model)].value == 500
    assert got[("llm_load.client.failures", model)].value == 72
    errors = (("error.type", "http_503"), ("server.address", "h"))
    assert got[("llm_load.client.errors", errors)].value == 72
    book.reset()  # a new test start: counted from zero again, on top
    book.add(record("a"))
    replay.replay(book, {"server.address": "h"})
    assert points(reader)[("llm_load.client.requests", model)].value == 501


def test_time_to_first_output_and_cached_and_reasoning_tokens() -> None:
    reader = InMemoryMetricReader()
    replay = BookReplay(MeterProvider(metric_readers=[reader]).get_meter("t"))
    book = MetricsBook()
    for i in range(10):
        book.add(reasoning_record("r", cached=32, reasoning=4, ttfo=200.0 + i))
    replay.replay(book, {})
    got = points(reader)
    model = (("gen_ai.request.model", "r"),)
    assert got[("llm_load.client.time_to_first_output", model)].count == 10
    assert got[("llm_load.client.cached_tokens", model)].value == 320
    assert got[("llm_load.client.reasoning_tokens", model)].value == 40
