"""`--ttft-timeout S`: a streamed request whose first token is late fails as `ttft_timeout`.

Covered for both stream readers (the epoll reactor and the per-user greenlet): a server
that sends headers and a role-only chunk then nothing, a server that sends no headers at
all, and the mock with a 2 s TTFT; and the other way round, a stream whose first token is
on time but whose tokens keep coming long after S (gaps longer than S) must not fail.
"""

from __future__ import annotations

import json

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import load, short_run
from tests.integration.fault_server import FaultServer

pytestmark = pytest.mark.timeout(120)

READERS = ["reactor", "greenlet"]


def run(host: str, summary_path, reader: str, *extra: str, model: str = "m") -> dict:
    """A 3 s run; the summary, with the `--llm-requests` rows added as `rows`."""
    rows = summary_path.with_name("rows.jsonl")
    args = ("--model", model, "--stream-reader", reader, "--request-timeout", "10", *extra)
    proc = short_run(host, summary_path, *args, "--llm-requests", str(rows), run_time="3s")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return {**load(summary_path), "rows": [json.loads(line) for line in rows.open()]}


def assert_all_ttft_timeouts(s: dict, timeout_ms: float) -> None:
    t = s["totals"]
    assert t["failures"] == t["requests"] >= 4, s["errors"]
    [error] = s["errors"]
    assert error["kind"] == "ttft_timeout", error
    assert f"within {timeout_ms / 1000:g} s" in error["example"]
    assert t["ttft_ms"]["count"] == 0 and t["output_tokens"] == 0
    # each failed request ends at the deadline, long before the 10 s stall timeout
    e2e = [r["e2e_ms"] for r in s["rows"] if r["status"] == "failed"]
    assert len(e2e) == t["failures"]
    assert all(timeout_ms * 0.98 <= ms <= timeout_ms + 300 for ms in e2e), e2e


@pytest.mark.parametrize("reader", READERS)
def test_role_chunk_then_silence(summary_path, reader):
    with FaultServer("role_wait", stall_s=20) as server:
        s = run(server.base_url, summary_path, reader, "--ttft-timeout", "0.5")
    assert_all_ttft_timeouts(s, 500)


def test_no_headers_at_all(summary_path):
    with FaultServer("late_headers", stall_s=20) as server:
        s = run(server.base_url, summary_path, "reactor", "--ttft-timeout", "0.5")
    assert_all_ttft_timeouts(s, 500)


@pytest.mark.parametrize("reader", READERS)
def test_mock_with_a_slow_first_token(summary_path, reader):
    with spawn_mock("--ttft-ms", "2000", "--itl-ms", "5", "--tokens", "8") as mock:
        s = run(mock.base_url, summary_path, reader, "--ttft-timeout", "0.5", model="mock-llm")
    assert_all_ttft_timeouts(s, 500)


@pytest.mark.parametrize("reader", READERS)
def test_a_timely_first_token_lets_the_stream_run_past_the_deadline(summary_path, reader):
    # 3 tokens 0.7 s apart: every request lasts ~1.5 s, with gaps longer than the 0.5 s limit
    with spawn_mock("--ttft-ms", "50", "--itl-ms", "700", "--tokens", "3") as mock:
        s = run(mock.base_url, summary_path, reader, "--ttft-timeout", "0.5", model="mock-llm")
    t = s["totals"]
    assert t["failures"] == 0 and t["requests"] >= 2, s["errors"]
    assert t["e2e_ms"]["p50"] > 1300
