"""The mock's injected faults under a headless Locust run: every error kind equals the truth."""

from __future__ import annotations

# Locust (gevent) must patch ssl before requests/urllib3 import it, in this pytest process too.
import locust  # noqa: F401

import json
from collections import Counter
from pathlib import Path

import pytest
import requests

from llm_load.mock.process import spawn_mock
from tests.conftest import load, run_locust

pytestmark = pytest.mark.timeout(120)
MOCK = ("--ttft-ms", "10", "--itl-ms", "1", "--tokens", "16", "--seed", "3")
# Users finish the request in flight when the time is up: nothing is cancelled, truth is exact.
DRAIN = ("--stop-timeout", "10")
CLIENT_KIND = {None: None, "http_503": "http_503", "dropped": "connection_closed"}


def run(host: str, summary: Path, *extra: str, users: int = 8, seconds: int = 5) -> dict:
    proc = run_locust(
        "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "-H", host,
        "--model", "mock-llm", "--llm-json", str(summary), *DRAIN, *extra,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return load(summary)


def error_counts(summary: dict) -> dict[str, int]:
    return {e["kind"]: e["count"] for e in summary["errors"]}


def test_errors_and_drops_equal_the_truth(summary_path, tmp_path):
    rows_path = tmp_path / "requests.jsonl"
    with spawn_mock(*MOCK, "--error-rate", "0.1", "--drop-rate", "0.05") as mock:
        s = run(mock.base_url, summary_path, "--llm-requests", str(rows_path))
        stats = mock.stats()
    t, truth, faults = s["totals"], stats["requests"], stats["faults"]
    assert len(truth) == stats["total"] > 500
    assert faults == dict(Counter(r["fault"] for r in truth if r["fault"]))
    assert faults["http_503"] > 20 and faults["dropped"] > 10
    assert error_counts(s) == {
        "http_503": faults["http_503"],
        "connection_closed": faults["dropped"],
    }
    assert t["requests"] + t["cancelled"] == len(truth) and t["cancelled"] == 0
    assert t["failures"] == sum(faults.values()) and t["connection_retries"] == 0
    # the tokens a dropped stream delivered before the drop are counted
    assert t["output_tokens"] == sum(r["tokens"] for r in truth)
    dropped_tokens = sum(r["tokens"] for r in truth if r["fault"] == "dropped")
    assert 0 < dropped_tokens < 16 * faults["dropped"]
    example = next(e["example"] for e in s["errors"] if e["kind"] == "http_503")
    assert "Service unavailable" in example
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    got = Counter((r["error_kind"], r["output_tokens"]) for r in rows)
    assert got == Counter((CLIENT_KIND[r["fault"]], r["tokens"]) for r in truth)


def test_stalls_longer_than_the_request_timeout_are_timeouts(summary_path):
    mock_args = (*MOCK, "--stall-rate", "0.2", "--stall-s", "5")
    with spawn_mock(*mock_args) as mock:
        s = run(mock.base_url, summary_path, "--request-timeout", "1", users=4, seconds=4)
        stats = mock.stats()
    t, faults = s["totals"], stats["faults"]
    assert faults["stalled"] >= 5 and set(faults) == {"stalled"}
    assert error_counts(s) == {"timeout": faults["stalled"]}
    assert t["requests"] + t["cancelled"] == stats["total"] and t["cancelled"] == 0
    stalled = [r for r in stats["requests"] if r["fault"] == "stalled"]
    assert not any(r["completed"] for r in stalled)  # the client gave up first


def test_rate_limit_answers_carry_retry_after(summary_path):
    with spawn_mock(*MOCK, "--error-rate", "1", "--error-status", "429") as mock:
        s = run(mock.base_url, summary_path, users=2, seconds=2)
        with requests.Session() as http:
            http.trust_env = False
            body = {"messages": [{"role": "user", "content": "hi"}]}
            resp = http.post(mock.base_url + "/v1/chat/completions", json=body, timeout=10)
        stats = mock.stats()
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert resp.json()["error"]["type"] == "RateLimitError"
    assert error_counts(s) == {"http_429": stats["faults"]["http_429"] - 1}
    (error,) = s["errors"]
    assert error["example"].startswith("rate limited (Retry-After: 1): Rate limit reached")
