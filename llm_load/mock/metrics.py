"""``GET /metrics``: the mock's own Prometheus metrics, in vLLM's names, from its ground truth.

Every value is one the mock knows to be true at the moment of the scrape: requests running
(replies generating) and waiting (queued for a ``--parallel`` slot), counted over the open
connections; ``kv_cache_usage_perc`` is running / ``--parallel`` (slots in use, 0 without
a limit); generated tokens (tokens written) and prompt tokens (the mock's estimate of
accepted requests) summed over the truth records; a TTFT histogram (seconds, vLLM's
buckets) of the streamed replies' first tokens, from their ``received_at``. Counters follow
the truth store, so ``POST /stats/reset`` resets them (a scraper sees a counter reset).
``llm_load_mock_metrics_scrapes_total`` counts the scrapes served (this one included).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from llm_load.mock.replies import Delayed, Stream
from llm_load.mock.slots import Waiting
from llm_load.mock.truth import TruthRecord, TruthStore

if TYPE_CHECKING:
    from llm_load.mock.server import MockProtocol

__all__ = ["CONTENT_TYPE", "MockMetrics"]

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
TTFT_BUCKETS_S = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                  2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)  # fmt: skip
MODEL_LABEL = '{model_name="llm-load-mock"}'


class MockMetrics:
    """Renders the exposition text; `parallel` is the mock's ``--parallel`` (0: unlimited)."""

    def __init__(self, truth: TruthStore, parallel: int) -> None:
        self.truth, self.parallel = truth, parallel
        self.scrapes = 0

    def render(self, connections: Iterable[MockProtocol]) -> bytes:
        self.scrapes += 1
        running = waiting = 0
        for conn in connections:
            reply = conn.reply
            if isinstance(reply, Stream | Delayed):
                running += 1
            elif isinstance(reply, Waiting) and not reply.cancelled:
                waiting += 1
        records = self.truth.records()
        usage = running / self.parallel if self.parallel else 0.0
        lines = [
            *_metric("vllm:num_requests_running", "gauge", running),
            *_metric("vllm:num_requests_waiting", "gauge", waiting),
            *_metric("vllm:kv_cache_usage_perc", "gauge", min(usage, 1.0)),
            *_metric("vllm:generation_tokens_total", "counter", sum(r.tokens for r in records)),
            *_metric("vllm:prompt_tokens_total", "counter", _prompt_tokens(records)),
            *_histogram("vllm:time_to_first_token_seconds", _ttfts_s(records)),
            *_metric("llm_load_mock_metrics_scrapes_total", "counter", self.scrapes, label=""),
        ]
        return ("\n".join(lines) + "\n").encode()


def _metric(name: str, kind: str, value: float, label: str = MODEL_LABEL) -> list[str]:
    return [f"# TYPE {name} {kind}", f"{name}{label} {value}"]


def _prompt_tokens(records: list[TruthRecord]) -> int:
    return sum(r.prompt_chars // 4 + 1 for r in records if r.status == 200)


def _ttfts_s(records: list[TruthRecord]) -> list[float]:
    return [r.offsets[0] - r.received_at for r in records if r.stream and r.offsets]


def _histogram(name: str, values: list[float]) -> list[str]:
    lines = [f"# TYPE {name} histogram"]
    for bound in TTFT_BUCKETS_S:
        count = sum(v <= bound for v in values)
        lines.append(f'{name}_bucket{{le="{bound}",model_name="llm-load-mock"}} {count}')
    lines.append(f'{name}_bucket{{le="+Inf",model_name="llm-load-mock"}} {len(values)}')
    lines.append(f"{name}_sum{MODEL_LABEL} {sum(values)}")
    lines.append(f"{name}_count{MODEL_LABEL} {len(values)}")
    return lines
