"""Per-request server timings: off the usage chunk, into the record, the book, a threshold."""

from __future__ import annotations

import json

import pytest

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import record_from_stream
from llm_load.core.metrics.thresholds import evaluate, parse_threshold
from llm_load.core.wire.chat import ChatStream

# Shapes as the real servers send them (tests/fixtures/metrics/README.md).
LLAMA_USAGE = {
    "choices": [],
    "usage": {"completion_tokens": 2, "prompt_tokens": 5, "total_tokens": 7},
    "timings": {"cache_n": 0, "prompt_n": 5, "prompt_ms": 12.0, "predicted_ms": 50.0},
}
VLLM_USAGE = {
    "choices": [],
    "usage": {"completion_tokens": 2, "prompt_tokens": 5, "total_tokens": 7},
    "metrics": {"time_to_first_token_ms": 10.0, "queue_time_ms": 0.5, "mean_itl_ms": 2.8},
}


def stream_of(usage_chunk: dict) -> ChatStream:
    stream = ChatStream()
    for i, text in enumerate(("a", "b")):
        chunk = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        stream.add(json.dumps(chunk).encode(), 0.040 + i * 0.01)
    stream.add(json.dumps(usage_chunk).encode(), 0.06)
    stream.add(b"[DONE]", 0.06)
    return stream


@pytest.mark.parametrize(
    ("usage_chunk", "server_ttft", "queue"), [(LLAMA_USAGE, 12.0, None), (VLLM_USAGE, 10.5, 0.5)]
)
def test_timings_on_the_usage_chunk_give_outside_ms(usage_chunk, server_ttft, queue):
    rec = record_from_stream(
        stream_of(usage_chunk), model="m", started_at=0.0, e2e_s=0.07, streamed=True,
        prompt_chars=20,
    )  # fmt: skip
    assert rec.server_ttft_ms == server_ttft and rec.server_queue_ms == queue
    assert rec.outside_ms == pytest.approx(40.0 - server_ttft)


def test_non_streamed_timings_have_no_client_ttft():
    stream = ChatStream()
    stream.add_completion(
        {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], **LLAMA_USAGE}
    )
    rec = record_from_stream(
        stream, model="m", started_at=0.0, e2e_s=0.1, streamed=False, prompt_chars=4
    )
    assert rec.server_ttft_ms == 12.0 and rec.outside_ms is None


def record_of(usage_chunk: dict):
    return record_from_stream(
        stream_of(usage_chunk), model="m", started_at=0.0, e2e_s=0.07, streamed=True,
        prompt_chars=20,
    )  # fmt: skip


def test_book_summary_and_threshold_on_outside_ms():
    book = MetricsBook()
    for _ in range(3):
        book.add(record_of(LLAMA_USAGE))
    merged = MetricsBook.from_dict(book.to_dict())
    totals = merged.totals().summary(1.0)
    assert totals["outside_ms"]["count"] == 3
    assert totals["outside_ms"]["p99"] == pytest.approx(28.0, rel=0.01)
    assert "server_queue_ms" not in totals  # llama.cpp does not say its queue time
    result = evaluate([parse_threshold("outside_ms.p99 < 20")], {"totals": totals, "by_model": {}})
    assert result["passed"] is False and result["thresholds"][0]["value"] == pytest.approx(
        28.0, rel=0.01
    )


def test_books_without_server_timings_say_nothing_about_them():
    book = MetricsBook()
    book.add(record_of({"choices": [], "usage": LLAMA_USAGE["usage"]}))
    assert "outside_ms" not in book.totals().summary(1.0)
