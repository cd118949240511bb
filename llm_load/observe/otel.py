"""The run's `MetricsBook` as OpenTelemetry instruments, under the GenAI client
semantic-convention names where they exist.

`BookReplay(meter)` creates the instruments once; `replay(book, attributes)` adds what the book
gained since the previous call (a book that was reset, at a new test start, counts from zero
again), so the OTel counters and histograms are cumulative over the process. Histograms have
explicit bounds `BOUNDS_S` (edges of our `LogHistogram`, as for Prometheus): each new count of
one of our buckets is recorded at that bucket's midpoint, which lies inside the same exported
bucket, so bucket counts and `count` are exact and `sum` is within 1/128 (0.8%) of the true
sum. Names (semantic conventions for GenAI client metrics, status "development"):
- `gen_ai.client.operation.time_to_first_chunk` (s): our TTFT;
- `gen_ai.client.operation.time_per_output_chunk` (s): our ITL, the gap between chunks;
- `gen_ai.client.operation.duration` (s): E2E of successful calls;
- `llm_load.client.time_per_output_token` and `.time_to_first_output` (s, the first answer
  token after any reasoning), and counters `llm_load.client.requests`, `.failures`,
  `.cancelled`, `.good_requests` (with an SLO), `.tokens` (with `gen_ai.token.type`
  input/output), `.cached_tokens`, `.reasoning_tokens`, `.tool_calls`
  (`llm_load.tool.grade`), `.errors` (`error.type`, all models).
`gen_ai.client.token.usage` is a histogram of tokens per request; the book keeps token totals
only, so they go to the `llm_load.client.tokens` counter instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_load.core.metrics.book import MetricsBook, ModelMetrics
from llm_load.core.metrics.histogram import LogHistogram
from llm_load.observe.buckets import BOUNDS_S, midpoint_ms

__all__ = ["COUNTERS", "HISTOGRAMS", "Attributes", "BookReplay"]

Attributes = Mapping[str, str | int]
# (book histogram, instrument name, description)
HISTOGRAMS = (
    ("ttft_ms", "gen_ai.client.operation.time_to_first_chunk", "Time to first token chunk"),
    ("itl_ms", "gen_ai.client.operation.time_per_output_chunk", "Time between output chunks"),
    ("e2e_ms", "gen_ai.client.operation.duration", "Duration of successful calls"),
    ("tpot_ms", "llm_load.client.time_per_output_token", "Time per token after the first"),
    ("ttfo_ms", "llm_load.client.time_to_first_output", "Time to first answer token"),
)
# (book counter, instrument name, extra attributes, description)
COUNTERS: tuple[tuple[str, str, dict[str, str], str], ...] = (
    ("requests", "llm_load.client.requests", {}, "Finished calls (not cancelled)"),
    ("failures", "llm_load.client.failures", {}, "Failed calls"),
    ("cancelled", "llm_load.client.cancelled", {}, "Calls cut off by the test's stop"),
    ("input_tokens", "llm_load.client.tokens", {"gen_ai.token.type": "input"}, "Tokens"),
    ("output_tokens", "llm_load.client.tokens", {"gen_ai.token.type": "output"}, "Tokens"),
    ("cached_tokens", "llm_load.client.cached_tokens", {}, "Prompt tokens served from cache"),
    ("reasoning_tokens", "llm_load.client.reasoning_tokens", {}, "Reasoning tokens"),
    ("good", "llm_load.client.good_requests", {}, "Successful calls meeting the SLO"),
)


class BookReplay:
    """Feeds a book's growth into OpenTelemetry instruments of `meter`."""

    def __init__(self, meter: Any) -> None:
        self._histograms = {
            attr: meter.create_histogram(
                name, unit="s", description=doc, explicit_bucket_boundaries_advisory=BOUNDS_S
            )
            for attr, name, doc in HISTOGRAMS
        }
        self._counters = {
            name: meter.create_counter(name, unit="1", description=doc)
            for _, name, _, doc in COUNTERS
        }
        self._tools = meter.create_counter("llm_load.client.tool_calls", description="By grade")
        self._errors = meter.create_counter("llm_load.client.errors", description="By kind")
        self._seen: dict[tuple[str, str], Any] = {}  # what was already recorded

    def replay(self, book: MetricsBook, attributes: Attributes) -> None:
        """Record what `book` gained since the last call."""
        for model, metrics in book.by_model.items():
            attrs = {**attributes, "gen_ai.request.model": model}
            self._replay_model(model, metrics, attrs)
        for kind, stat in book.errors.items():
            attrs = {**attributes, "error.type": kind}
            self._add(self._errors, ("errors", kind), stat.count, attrs)

    def _replay_model(self, model: str, metrics: ModelMetrics, attrs: dict[str, Any]) -> None:
        for attr, _, _ in HISTOGRAMS:
            self._record(attr, model, getattr(metrics, attr), attrs)
        for attr, name, extra, _ in COUNTERS:
            counter = self._counters[name]
            self._add(counter, (attr, model), getattr(metrics, attr), {**attrs, **extra})
        grades = {"correct": metrics.tool_correct, **metrics.tool_errors}
        for grade, count in grades.items():
            if count:
                tool_attrs = {**attrs, "llm_load.tool.grade": grade}
                self._add(self._tools, ("tool:" + grade, model), count, tool_attrs)

    def _add(self, counter: Any, key: tuple[str, str], total: int, attrs: Attributes) -> None:
        last = self._seen.get(key, 0)
        delta = total - last if total >= last else total  # smaller: the book was reset
        self._seen[key] = total
        if delta:
            counter.add(delta, attrs)

    def _record(self, attr: str, model: str, hist: LogHistogram, attrs: Attributes) -> None:
        counts = {index: count for index, count in hist.to_dict()["counts"]}
        last: dict[int, int] = self._seen.get((attr, model), {})
        if any(count < last.get(index, 0) for index, count in counts.items()) or (
            sum(counts.values()) < sum(last.values())
        ):
            last = {}  # the book was reset
        self._seen[(attr, model)] = counts
        record = self._histograms[attr].record
        for index, count in counts.items():
            value_s = midpoint_ms(index) / 1000.0
            for _ in range(count - last.get(index, 0)):
                record(value_s, attrs)
