"""vLLM's own answers, checked as the issue recorded them, and a full queue under load.

The bodies asserted here are vLLM 0.32's (CPU build) as seen on 127.0.0.1; `body_message`
must turn each into the server's own words for summary.json's `errors[]`."""

from __future__ import annotations

import pytest
import requests

from llm_load.core.wire.errors import body_message
from tests.conftest import clean_env, load, short_run
from tests.real.conftest import VLLM_MAX_IN_FLIGHT, RealServer

pytestmark = [pytest.mark.real, pytest.mark.timeout(900)]
BUSY = (
    "The engine is currently busy and cannot accept new requests. "
    "Please try again later or on a different instance."
)
HI = [{"role": "user", "content": "hi"}]


def call(server: RealServer, path: str, body: dict | None, key: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    method = "POST" if body is not None else "GET"
    url = server.base_url + path
    return requests.request(method, url, json=body, headers=headers, timeout=60)


@pytest.mark.parametrize("key", [None, "", "sk-wrong-0000"], ids=["missing", "empty", "wrong"])
@pytest.mark.parametrize("path", ["/v1/models", "/v1/chat/completions", "/v1/v1/models"])
def test_401_is_a_plain_string_before_routing(vllm, key, path):
    r = call(vllm, path, {} if "chat" in path else None, key)
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})
    assert body_message(r.content) == "Unauthorized"


@pytest.mark.parametrize("path", ["/v1/v1/models", "/models", "/api/v1/models"])
def test_paths_outside_v1_are_fastapi_404s(vllm, path):
    r = call(vllm, path, None, vllm.key)
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})
    assert body_message(r.content) == "Not Found"


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        (
            {"model": "nope"},
            404,
            "The model `nope` does not exist. Valid aliases: tiny-llama.",
        ),
        (
            {"stream_options": {"include_usage": True}},
            400,
            "Stream options can only be defined when `stream=True`. (parameter=stream_options)",
        ),
        (
            {"max_tokens": 100000},
            400,
            "max_tokens=100000 cannot be greater than max_model_len=4096. Please request fewer "
            "output tokens. (parameter=max_tokens, value=100000)",
        ),
    ],
    ids=["unknown-model", "stream-options-without-stream", "max-tokens-over-context"],
)
def test_request_errors_carry_vllms_message(vllm, extra, status, message):
    body = {"model": vllm.model, "messages": HI, "max_tokens": 4, **extra}
    r = call(vllm, "/v1/chat/completions", body, vllm.key)
    assert r.status_code == status and r.json()["error"]["message"] == message
    assert r.json()["error"]["code"] == status
    assert body_message(r.content) == message


def rejections(server: RealServer) -> float:
    return server.metrics()["vllm:admission_rejections_total"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_a_full_queue_is_counted_with_vllms_message(vllm, summary_path, stream):
    """More users than --max-num-queued-reqs: vLLM refuses the excess with 503 (not streamed)
    or, for a stream, HTTP 200 whose only event is `data: {"error": {... "code": 503}}`."""
    before = rejections(vllm)
    users = 3 * VLLM_MAX_IN_FLIGHT
    proc = short_run(
        vllm.base_url, summary_path, "--model", vllm.model, "--max-tokens", "32",
        "--stop-timeout", "60", *([] if stream else ["--no-stream"]),
        users=users, run_time="3s", env=clean_env(OPENAI_API_KEY=vllm.key),
    )  # fmt: skip
    refused = rejections(vllm) - before
    s = load(summary_path)
    t = s["totals"]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    kinds = {"stream_error", "http_503"} if stream else {"http_503"}
    assert {e["kind"] for e in s["errors"]} <= kinds and s["errors"], s["errors"]
    assert all(e["example"] == BUSY for e in s["errors"])
    assert t["failures"] == sum(e["count"] for e in s["errors"]) > 0
    # vLLM's own count; a call cut off by the test's stop (rare, `cancelled`) may be one too
    assert t["failures"] <= refused <= t["failures"] + t["cancelled"]
    assert t["requests"] > t["failures"]
    if stream:  # both forms come: HTTP 503 JSON and HTTP 200 with one in-stream error
        print("refused streams by kind:", {e["kind"]: e["count"] for e in s["errors"]})
