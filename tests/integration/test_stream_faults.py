"""Stream faults from a misbehaving server: precise failure kinds, nothing measured is lost."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import load, short_run
from tests.integration.fault_server import FaultServer

pytestmark = pytest.mark.timeout(120)

READERS = ["reactor", "greenlet"]


def run_against(host: str, summary_path, reader: str = "reactor", *extra: str) -> dict:
    """A 3 s, 2-user run against `host`; no traceback allowed; returns the summary."""
    args = ("--model", "m", "--stream-reader", reader, *extra)
    proc = short_run(host, summary_path, *args, run_time="3s")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return load(summary_path)


@pytest.mark.parametrize("reader", READERS)
def test_stall_past_request_timeout_keeps_ttft(summary_path, reader):
    with FaultServer("stall", stall_s=20) as server:
        s = run_against(server.base_url, summary_path, reader, "--request-timeout", "1")
    t = s["totals"]
    assert t["failures"] == t["requests"] >= 2
    assert s["errors"][0]["kind"] == "timeout"
    assert t["ttft_ms"]["count"] >= t["requests"] and t["output_tokens"] >= t["requests"]


@pytest.mark.parametrize("reader", READERS)
def test_connection_closed_mid_stream(summary_path, reader):
    with FaultServer("close") as server:
        s = run_against(server.base_url, summary_path, reader)
    t = s["totals"]
    assert t["requests"] > 2 and t["failures"] == t["requests"]
    assert [e["kind"] for e in s["errors"]] == ["connection_closed"]
    # the two tokens each request received before the drop are kept
    assert 2 * t["requests"] <= t["output_tokens"] <= 2 * (t["requests"] + t["cancelled"])
    assert t["ttft_ms"]["count"] >= t["requests"]


@pytest.mark.parametrize(
    ("mode", "kind", "message"),
    [
        ("not_sse", "not_sse", "expected text/event-stream"),
        ("html500", "http_500", "500 Internal Server Error"),
        ("error_event", "stream_error", "KV cache exhausted"),
        ("error_field", "stream_error", "context shift is disabled"),
        ("no_finish", "incomplete_stream", "stream reached [DONE] without a finish_reason"),
    ],
)
def test_bad_responses_are_failures_with_the_servers_message(summary_path, mode, kind, message):
    with FaultServer(mode) as server:
        s = run_against(server.base_url, summary_path, "reactor")
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    assert s["errors"][0]["kind"] == kind and message in s["errors"][0]["example"]
    if mode in ("error_field", "no_finish"):  # the tokens received before it are kept
        assert s["totals"]["output_tokens"] >= s["totals"]["requests"]


def test_connection_refused(summary_path):
    with socket.socket() as probe:  # a port that nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = run_against(f"http://127.0.0.1:{port}", summary_path)
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    assert s["errors"][0]["kind"] == "connection_refused"


def test_keepalive_connection_closed_between_requests_is_retried_once(summary_path):
    with FaultServer("keepalive_drop") as server:
        s = run_against(server.base_url, summary_path, "reactor")
    t = s["totals"]
    assert t["requests"] > 5 and t["failures"] == 0, s["errors"]
    assert t["connection_retries"] > 0
    assert t["requests"] <= server.requests <= t["requests"] + t["cancelled"]
