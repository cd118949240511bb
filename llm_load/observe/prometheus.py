"""A run's `MetricsBook` as Prometheus metric families, built fresh at each scrape.

`families(snapshot)` turns the merged book (the same one summary.json is built from) into
`prometheus_client` families: histograms `llm_load_{ttft,itl,tpot,e2e,ttfo}_seconds`,
counters of requests, failures, cancelled calls, input/output/cached/reasoning tokens, goodput
(good requests and their output tokens, when the run has an SLO), tool calls by grade and
errors by kind, and gauges
of users and in-flight requests. Per-model series carry the label `model`; errors by kind and
the gauges are run-wide. Nothing is kept between scrapes: memory is the book's (constant per
model) plus one scrape's output.

Bucket mapping: our `LogHistogram` has fixed log-linear buckets (64 per power of two above 0.1
ms). Each Prometheus bound of `BOUNDS_S` is snapped to the nearest edge of that layout (e.g. 10
s -> 10.0352 s; 1 ms, 5 ms, 50 ms are edges as they are), so every `_bucket` count is exact:
the number of recorded values below `le` (`le` means "<=": only a value within float rounding
of an edge may count on the other side); `_count` and `_sum` are exact too. What Prometheus
then loses is only inside one of its buckets: `histogram_quantile` interpolates linearly
between two adjacent bounds, so its answer lies in the same bucket as the true quantile. The
bounds (56, 0.5 ms to 10 min) are at most 1.34x apart up to 60 s (e.g. 40-50 ms, 1-1.25 s):
that ratio is the bucket error of a quantile read from Prometheus; the exact quantiles are in
summary.json and the web UI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from llm_load.core.metrics.book import MetricsBook, ModelMetrics
from llm_load.core.metrics.histogram import LogHistogram
from llm_load.observe.buckets import BOUNDS, BOUNDS_S, WANTED_S

__all__ = ["BOUNDS_S", "HISTOGRAMS", "WANTED_S", "LLMCollector", "Snapshot", "families"]

PREFIX = "llm_load_"
# (book histogram, Prometheus name, help)
HISTOGRAMS = (
    ("ttft_ms", "ttft_seconds", "Time to first token (content, reasoning or tool call)"),
    ("itl_ms", "itl_seconds", "Inter-token latency: gap between streamed token chunks"),
    ("tpot_ms", "tpot_seconds", "Time per output token after the first, per request"),
    ("e2e_ms", "e2e_seconds", "Whole request latency of successful requests"),
    ("ttfo_ms", "ttfo_seconds", "Time to the first output (answer) token, after any reasoning"),
)
# (book counter, Prometheus name without _total, help)
COUNTERS = (
    ("requests", "requests", "Finished requests (successful or failed; not cancelled)"),
    ("failures", "failures", "Failed requests"),
    ("cancelled", "cancelled", "Requests cut off because the test stopped"),
    ("input_tokens", "input_tokens", "Prompt tokens sent"),
    ("output_tokens", "output_tokens", "Output tokens received"),
    ("cached_tokens", "cached_tokens", "Prompt tokens the server said came from its cache"),
    ("reasoning_tokens", "reasoning_tokens", "Reasoning tokens received (in output_tokens)"),
)
GOODPUT = (
    ("good", "good_requests", "Successful requests that met the run's SLO"),
    ("good_output_tokens", "good_output_tokens", "Output tokens of requests meeting the SLO"),
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape reads: the merged book, and the gauges (None: not known)."""

    book: MetricsBook
    users: int | None = None
    in_flight: int | None = None


def cumulative_buckets(hist: LogHistogram) -> list[tuple[str, float]]:
    """The `_bucket` samples of `hist` in seconds: exact counts of values below each bound."""
    sparse = hist.to_dict()["counts"]  # [[bucket index, count], ...] ascending
    out: list[tuple[str, float]] = []
    below, position = 0, 0
    for bound, first_index in BOUNDS:
        while position < len(sparse) and sparse[position][0] < first_index:
            below += sparse[position][1]
            position += 1
        out.append((repr(bound), float(below)))
    out.append(("+Inf", float(hist.count)))
    return out


def families(snapshot: Snapshot) -> Iterator[Metric]:
    """Every metric family of one scrape."""
    models = sorted(snapshot.book.by_model.items())
    yield from _histograms(models)
    yield from _counters(models, snapshot.book)
    yield from _gauges(snapshot)


def _histograms(models: list[tuple[str, ModelMetrics]]) -> Iterator[Metric]:
    for attr, name, doc in HISTOGRAMS:
        family = HistogramMetricFamily(PREFIX + name, doc, labels=["model"])
        for model, metrics in models:
            hist: LogHistogram = getattr(metrics, attr)
            family.add_metric([model], cumulative_buckets(hist), hist.total / 1000.0)
        yield family


def _counters(models: list[tuple[str, ModelMetrics]], book: MetricsBook) -> Iterator[Metric]:
    wanted = COUNTERS + (GOODPUT if book.slo is not None else ())
    for attr, name, doc in wanted:
        family = CounterMetricFamily(PREFIX + name, doc, labels=["model"])
        for model, metrics in models:
            family.add_metric([model], getattr(metrics, attr))
        yield family
    tools = CounterMetricFamily(
        PREFIX + "tool_calls", "Graded tool calls by grade", labels=["model", "grade"]
    )
    for model, metrics in models:
        if metrics.tool_expected:
            tools.add_metric([model, "correct"], metrics.tool_correct)
        for grade, count in sorted(metrics.tool_errors.items()):
            tools.add_metric([model, grade], count)
    yield tools
    errors = CounterMetricFamily(
        PREFIX + "errors", "Failed requests by error kind (all models)", labels=["kind"]
    )
    for kind, stat in sorted(book.errors.items()):
        errors.add_metric([kind], stat.count)
    yield errors


def _gauges(snapshot: Snapshot) -> Iterator[Metric]:
    if snapshot.users is not None:
        yield GaugeMetricFamily(PREFIX + "users", "Users running", value=snapshot.users)
    if snapshot.in_flight is not None:
        yield GaugeMetricFamily(
            PREFIX + "in_flight_requests", "Requests sent, not yet finished", snapshot.in_flight
        )


class LLMCollector(Collector):
    """A `prometheus_client` collector reading a fresh `Snapshot` at each scrape."""

    def __init__(self, source: Callable[[], Snapshot]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        return families(self._source())

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no fixed description: the families depend on the run
