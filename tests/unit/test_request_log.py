"""Per-request JSONL rows and the bounded row buffer."""

from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.request_log import MAX_MESSAGE_CHARS, RowBuffer, request_row


def test_row_of_a_streamed_call():
    r = RequestRecord(
        model="m",
        started_at=1_800_000_000.25,
        e2e_s=0.3,
        ttft_s=0.1,
        token_times_s=(0.1, 0.11, 0.13),
        output_tokens=3,
        input_tokens=12,
        usage_reported=True,
        finish_reason="stop",
        tool_grade="wrong_value",
    )
    row = request_row(r)
    assert row["status"] == "ok" and row["ts"] == 1_800_000_000.25
    assert (row["ttft_ms"], row["e2e_ms"]) == (100.0, 300.0)
    assert (row["itl_ms_mean"], row["itl_ms_max"]) == (15.0, 20.0)
    assert (row["input_tokens"], row["output_tokens"], row["usage_estimated"]) == (12, 3, False)
    assert row["tool_grade"] == "wrong_value" and row["finish_reason"] == "stop"


def test_row_of_a_failed_and_a_cancelled_call():
    failed = RequestRecord(
        model="m", started_at=0, e2e_s=0.01, error_kind="http_403", error_message="x" * 1000
    )
    row = request_row(failed)
    assert (row["status"], row["error_kind"]) == ("failed", "http_403")
    assert len(row["error_message"]) == MAX_MESSAGE_CHARS
    assert row["ttft_ms"] is None and row["itl_ms_mean"] is None
    cancelled = RequestRecord(model="m", started_at=0, e2e_s=0.01, cancelled=True)
    assert request_row(cancelled)["status"] == "cancelled"


def test_buffer_is_capped_and_counts_what_it_drops():
    buffer = RowBuffer(cap=3)
    for i in range(5):
        buffer.append({"i": i})
    rows, dropped = buffer.drain()
    assert [r["i"] for r in rows] == [0, 1, 2] and dropped == 2
    assert buffer.drain() == ([], 0)
