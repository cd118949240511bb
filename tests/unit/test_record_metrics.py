"""RequestRecord's derived metrics and the MetricsBook's accounting and exact merge."""

import json
import random

import pytest

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import RequestRecord, record_from_stream
from llm_load.core.metrics.summary import build_summary
from llm_load.core.wire.chat import ChatStream


def streamed(times, usage_tokens=None, done=True, finish="stop") -> ChatStream:
    s = ChatStream()
    for t in times:
        s.add(json.dumps({"choices": [{"delta": {"content": "w"}}]}).encode(), t)
    s.add(json.dumps({"choices": [{"delta": {}, "finish_reason": finish}]}).encode(), times[-1])
    if usage_tokens is not None:
        s.add(
            json.dumps(
                {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": usage_tokens}}
            ).encode(),
            1,
        )
    if done:
        s.add(b"[DONE]", times[-1])
    return s


def test_derived_metrics():
    s = streamed([0.050, 0.055, 0.060, 0.070], usage_tokens=4)
    r = record_from_stream(s, model="m", started_at=0, e2e_s=0.080, streamed=True, prompt_chars=40)
    assert r.ok and r.usage_reported and r.input_tokens == 9
    assert r.ttft_ms == pytest.approx(50)
    assert r.itl_ms == pytest.approx([5, 5, 10])
    assert r.tpot_ms == pytest.approx((80 - 50) / 3)
    assert r.output_tokens_per_s == pytest.approx(4 / 0.080)


def test_tokens_estimated_without_usage():
    s = streamed([0.1, 0.2, 0.3])
    r = record_from_stream(s, model="m", started_at=0, e2e_s=0.4, streamed=True, prompt_chars=40)
    assert (r.output_tokens, r.usage_reported, r.input_tokens) == (3, False, 10)


@pytest.mark.parametrize(
    ("chat", "kind"),
    [
        (streamed([0.1], done=False, finish=None), "incomplete_stream"),
        (ChatStream(), "incomplete_stream"),
    ],
)
def test_stream_failures(chat, kind):
    r = record_from_stream(chat, model="m", started_at=0, e2e_s=1, streamed=True, prompt_chars=0)
    assert r.error_kind == kind and not r.ok


def test_done_without_finish_reason_is_incomplete_and_keeps_its_tokens():
    """[DONE] after content but no finish_reason on any choice: a failure, not silent."""
    s = streamed([0.1, 0.2], usage_tokens=2, finish=None)
    r = record_from_stream(s, model="m", started_at=0, e2e_s=1, streamed=True, prompt_chars=0)
    assert r.error_kind == "incomplete_stream" and r.finish_reason is None
    assert r.error_message == "stream reached [DONE] without a finish_reason"
    assert (r.output_tokens, r.ttft_ms) == (2, pytest.approx(100))


def test_finish_reason_then_eof_without_done_is_a_success():
    s = streamed([0.1, 0.2], usage_tokens=2, done=False, finish="length")
    r = record_from_stream(s, model="m", started_at=0, e2e_s=1, streamed=True, prompt_chars=0)
    assert r.ok and r.finish_reason == "length"


def test_empty_but_complete_stream_is_a_failure():
    s = ChatStream()
    s.add(b"[DONE]", 0.1)
    r = record_from_stream(s, model="m", started_at=0, e2e_s=1, streamed=True, prompt_chars=0)
    assert r.error_kind == "empty_response"


def test_partial_stream_keeps_ttft_and_tokens_on_failure():
    s = streamed([0.05, 0.06], done=False, finish=None)
    r = record_from_stream(
        s,
        model="m",
        started_at=0,
        e2e_s=0.1,
        streamed=True,
        prompt_chars=0,
        failure=("connection_closed", "closed"),
    )
    book = MetricsBook()
    book.add(r)
    m = book.by_model["m"]
    assert (m.requests, m.failures, m.output_tokens, m.ttft_ms.count, m.e2e_ms.count) == (
        1,
        1,
        2,
        1,
        0,
    )
    assert book.error_list() == [{"kind": "connection_closed", "count": 1, "example": "closed"}]


def test_cancelled_is_not_a_failure():
    book = MetricsBook()
    book.add(RequestRecord(model="m", started_at=0, e2e_s=0.1, output_tokens=3, cancelled=True))
    m = book.by_model["m"]
    assert (m.requests, m.failures, m.cancelled, m.output_tokens) == (0, 0, 1, 3)
    assert book.errors == {}


RUN = {"started_at": 1_800_000_000, "duration_s": 20.0, "target": "t", "settings": {}}


def random_record(rng: random.Random) -> RequestRecord:
    n = rng.randint(0, 20)
    ttft = rng.uniform(0.01, 2)
    times = tuple(ttft + i * rng.uniform(0.001, 0.05) for i in range(n))
    fail = rng.random() < 0.1
    calls = times[: rng.randint(0, n)] if rng.random() < 0.3 else ()
    return RequestRecord(
        model=rng.choice(["a", "b", "c"]),
        started_at=1_800_000_000 + rng.uniform(0, 20),
        tool_grade=rng.choice([None, "correct", "correct", "wrong_value", "no_call"]),
        tool_call_times_s=calls,
        e2e_s=(times[-1] if times else 0.5) + 0.01,
        ttft_s=times[0] if times else None,
        token_times_s=times,
        output_tokens=n,
        input_tokens=rng.randint(1, 100),
        usage_reported=rng.random() < 0.5,
        error_kind=rng.choice(["http_500", "timeout"]) if fail else None,
        error_message="boom" if fail else None,
        cancelled=rng.random() < 0.05,
        requested_input_tokens=rng.choice([None, 50, 50 + rng.randint(-3, 3)]),
        turn=rng.choice([None, 1, 2, 3]),
        cached_tokens=rng.choice([None, 0, rng.randint(1, 50)]),
    )


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_merged_worker_books_equal_one_book(workers):
    rng = random.Random(workers)
    records = [random_record(rng) for _ in range(2000)]
    whole = MetricsBook()
    parts = [MetricsBook() for _ in range(workers)]
    for rec in records:
        whole.add(rec)
        rng.choice(parts).add(rec)
    merged = MetricsBook()
    for part in parts:  # through the wire format, as Locust workers send it
        merged.merge(MetricsBook.from_dict(json.loads(json.dumps(part.to_dict()))))
    a, b = whole.totals().summary(10.0), merged.totals().summary(10.0)
    for key in (
        "requests",
        "failures",
        "cancelled",
        "input_tokens",
        "output_tokens",
        "usage_reported",
        "usage_estimated",
    ):
        assert a[key] == b[key]
    for hist in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "request_output_tokens_per_s"):
        for stat in ("count", "p50", "p90", "p95", "p99", "max"):
            assert a[hist][stat] == b[hist][stat], (hist, stat)
        assert a[hist]["mean"] == pytest.approx(b[hist]["mean"])
    assert whole.error_list()[0]["count"] == merged.error_list()[0]["count"]
    assert a["tool_calls"] == b["tool_calls"] and a["tool_calls"]["expected"] > 0
    assert a["input_tokens_drift"] == b["input_tokens_drift"]
    assert a["input_tokens_drift"]["drift"] and a["input_tokens_drift"]["max_abs_tokens"] > 3
    for hist in ("tool_first_call_ms", "tool_call_ms", "tool_args_tokens_per_s"):
        assert a[hist]["count"] == b[hist]["count"] > 0 and a[hist]["p99"] == b[hist]["p99"]
    assert a["prefix_cache"] == b["prefix_cache"]
    turns, merged_turns = (
        build_summary(whole, **RUN)["by_turn"],
        build_summary(merged, **RUN)["by_turn"],
    )
    assert set(turns) == set(merged_turns) == {"1", "2", "3"}
    for key, turn in turns.items():  # equal, but for float sums taken in another order
        other = merged_turns[key]
        assert other["ttft_ms"].pop("mean") == pytest.approx(turn["ttft_ms"].pop("mean"))
        assert other == turn and turn["requests"] > 0
    start = 1_800_000_000
    assert whole.series.points(start) == merged.series.points(start)
    assert sum(p["requests"] for p in whole.series.points(start)) == a["requests"]


def graded(grade: str | None, ok: bool = True) -> RequestRecord:
    return RequestRecord(
        model="m",
        started_at=0,
        e2e_s=0.1,
        tool_grade=grade,
        error_kind=None if ok else "http_500",
    )


def test_tool_grades_are_counted_per_model_apart_from_http_failures():
    book = MetricsBook()
    for grade in ("correct", "correct", "correct", "wrong_function", "invalid_json"):
        book.add(graded(grade))
    book.add(graded(None))  # a follow-up turn: not graded
    book.add(graded(None, ok=False))  # an HTTP failure is never graded
    summary = book.totals().summary(1.0)
    assert summary["tool_calls"] == {
        "expected": 5,
        "correct": 3,
        "accuracy": 0.6,
        "by_error": {"invalid_json": 1, "wrong_function": 1},
    }
    assert summary["tool_accuracy"] == 0.6
    assert (summary["requests"], summary["failures"]) == (7, 1)
    assert "tool_expected" not in summary


def test_chat_traffic_has_no_tool_fields():
    book = MetricsBook()
    book.add(graded(None))
    summary = book.totals().summary(1.0)
    assert "tool_calls" not in summary and "tool_call_ms" not in summary
    assert "task_ms" not in summary


def test_tool_call_timings_from_a_stream():
    s = ChatStream()
    s.add(b'{"choices":[{"delta":{"role":"assistant"}}]}', 0.01)
    first = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}
    s.add(json.dumps({"choices": [{"delta": {"tool_calls": [first]}}]}).encode(), 0.1)
    for i, t in enumerate((0.11, 0.12, 0.15)):
        part = {"index": 0, "function": {"arguments": '{"a": 1}'[i * 3 : i * 3 + 3]}}
        s.add(json.dumps({"choices": [{"delta": {"tool_calls": [part]}}]}).encode(), t)
    s.add(b'{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}', 0.16)
    s.add(b"[DONE]", 0.16)
    r = record_from_stream(
        s, model="m", started_at=0, e2e_s=0.2, streamed=True, prompt_chars=1, tool_grade="correct"
    )
    assert r.ok and r.tool_grade == "correct"
    assert r.tool_first_call_ms == pytest.approx(100) and r.tool_call_ms == pytest.approx(150)
    assert r.tool_args_tokens_per_s == pytest.approx(3 / 0.05)
    assert s.tool_calls[0]["function"] == {"name": "f", "arguments": '{"a": 1}'}


def test_a_grade_is_dropped_when_the_stream_itself_failed():
    s = ChatStream()
    s.add(b'{"choices":[{"delta":{"content":"x"}}]}', 0.1)  # no finish, no [DONE]
    r = record_from_stream(
        s, model="m", started_at=0, e2e_s=0.2, streamed=True, prompt_chars=1, tool_grade="correct"
    )
    assert r.error_kind == "incomplete_stream" and r.tool_grade is None
