"""HTTP error statuses: each a failure of kind `http_<status>` with the server's own message.

The fault server answers 400/401/403/404/408/413/422/429/500/502/503 in turn, every body in
one of the common shapes per run (OpenAI `{"error": {"message"}}`, `{"error": "..."}`,
`{"detail"}`, `{"message"}`, plain text, HTML, empty), so the seven runs cover every status
with every shape. Counts in summary.json's `errors[]` must equal what the server sent, and
429s must stay visible as rate limiting (with `Retry-After`), never retried or waited out.
"""

from __future__ import annotations

import pytest

from tests.conftest import load, short_run
from tests.integration.fault_server import SHAPES, FaultServer

pytestmark = pytest.mark.timeout(120)

STATUSES = (400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503)


def run(server: FaultServer, summary_path) -> dict:
    proc = short_run(server.base_url, summary_path, "--model", "m", run_time="2s")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 1, proc.stderr[-3000:]  # Locust: 1 when requests failed
    return load(summary_path)


def expected_message(status: int, shape: str, retry_after: str = "2") -> str:
    message = "(empty body)" if shape == "empty" else f"server says {status} ({shape})"
    if status == 429:
        return (
            f"rate limited (Retry-After: {retry_after}): {message}"
            if retry_after
            else (f"rate limited: {message}")
        )
    return message


@pytest.mark.parametrize("shape", SHAPES)
def test_every_status_is_counted_by_kind_with_the_servers_message(summary_path, shape):
    with FaultServer("status", statuses=STATUSES, shape=shape, delay_s=0.01) as server:
        s = run(server, summary_path)
        sent = dict(server.by_status)
    t = s["totals"]
    assert t["failures"] == t["requests"] >= 2 * len(STATUSES)
    errors = {e["kind"]: e for e in s["errors"]}
    assert set(errors) == {f"http_{status}" for status in STATUSES}
    for status in STATUSES:
        error = errors[f"http_{status}"]
        # each request is one failure of its status; one cut off by the test's end is cancelled
        assert error["count"] <= sent[status] <= error["count"] + t["cancelled"]
        assert error["example"] == expected_message(status, shape)
    assert sum(e["count"] for e in s["errors"]) == t["failures"]


@pytest.mark.parametrize("retry_after", ["1", ""])
def test_429_is_rate_limiting_never_retried_nor_waited_out(summary_path, retry_after):
    with FaultServer("status", statuses=(429,), retry_after=retry_after, delay_s=0.005) as server:
        s = run(server, summary_path)
        sent = server.requests
    t = s["totals"]
    [error] = s["errors"]
    assert error == {
        "kind": "http_429",
        "count": t["requests"],
        "example": expected_message(429, "openai", retry_after),
    }
    # one server request per Locust request (no retries), and no back-off: obeying the
    # 1 s Retry-After would allow 2 users at most 4 requests in 2 s
    assert t["requests"] <= sent <= t["requests"] + t["cancelled"]
    assert t["requests"] > 20
