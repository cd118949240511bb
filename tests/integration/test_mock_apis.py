"""The mock's Responses, Messages, completions and embeddings routes over real sockets, read by
llm-load's own request builders and accumulators: tokens, timings and usage equal the mock's
truth, tool cases graded equal the injected truth, tool results counted, faults and errors
in each API's own framing."""

from __future__ import annotations

# Locust (gevent) must patch ssl before requests/urllib3 import it, in this pytest process too.
import locust  # noqa: F401

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from llm_load.core.tools.cases import load_tool_cases, tool_result
from llm_load.core.tools.grading import grade
from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.completions import CompletionStream, completions_request_body
from llm_load.core.wire.embeddings import EmbeddingsStream, batch_input, embeddings_request_body
from llm_load.core.wire.errors import body_message
from llm_load.core.wire.messages import MessagesStream, messages_headers, messages_request_body
from llm_load.core.wire.responses import ResponsesStream, responses_request_body
from llm_load.core.wire.sse import SSEDecoder
from llm_load.mock import MockProcess, spawn_mock

pytestmark = pytest.mark.timeout(120)
DATASET = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "tools_basic.jsonl"
CASES = load_tool_cases(DATASET)
FAST = ("--ttft-ms", "0", "--itl-ms", "0", "--tokens", "4")
Builder = Callable[..., dict[str, Any]]
APIS: dict[str, tuple[Builder, type[ChatStream]]] = {
    "responses": (responses_request_body, ResponsesStream),
    "messages": (messages_request_body, MessagesStream),
    "completions": (completions_request_body, CompletionStream),
}
HELLO = [{"role": "user", "content": "Hello there, mock"}]


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # never through a proxy from the environment
        yield session


def post(http: requests.Session, mock: MockProcess, api: str, body: dict[str, Any],
         key: str | None = None) -> requests.Response:  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if api == "messages":
        headers = messages_headers(key)
    return http.post(f"{mock.base_url}/v1/{api}", json=body, headers=headers, timeout=10)


def ask(http: requests.Session, mock: MockProcess, api: str, messages: list[dict[str, Any]],
        stream: bool, max_tokens: int | None = None, **extra: Any) -> ChatStream:  # fmt: skip
    """One request built and accumulated as the load generator does; must succeed."""
    build, cls = APIS[api]
    body = build("mock-llm", messages, max_tokens=max_tokens, temperature=None, stream=stream,
                 extra=extra or None)  # fmt: skip
    resp = post(http, mock, api, body)
    assert resp.status_code == 200, resp.text
    acc = cls()
    if stream:
        decoder = SSEDecoder()
        for i, payload in enumerate(decoder.feed(resp.content) + decoder.flush()):
            acc.add(payload, float(i))
    else:
        acc.add_completion(resp.json())
    assert acc.done and acc.error is None and acc.invalid_chunks == 0
    return acc


@pytest.mark.parametrize("api", sorted(APIS))
def test_tokens_timing_and_usage_equal_the_truth(http: requests.Session, api: str) -> None:
    with spawn_mock("--ttft-ms", "30", "--itl-ms", "10", "--tokens", "40") as mock:
        streamed = ask(http, mock, api, HELLO, True)
        whole = ask(http, mock, api, HELLO, False)
        capped = ask(http, mock, api, HELLO, True, max_tokens=5)
        truth = mock.stats(detail=True)["requests"]
    assert [r["api"] for r in truth] == [api] * 3 and [r["stream"] for r in truth] == [
        True, False, True]  # fmt: skip
    assert streamed.token_chunks == streamed.completion_tokens == truth[0]["tokens"] == 40
    assert (
        len(truth[0]["token_offsets_ms"]) == 40 and truth[0]["ttft_ms"] >= 29
    )  # timers wake <= 1 ms early
    assert streamed.prompt_tokens == whole.prompt_tokens == 17 // 4 + 1
    assert whole.completion_tokens == 40 and whole.content == streamed.content
    assert (streamed.finish_reason, whole.finish_reason) == ("stop", "stop")
    assert capped.completion_tokens == capped.token_chunks == truth[2]["tokens"]
    assert capped.finish_reason == "length"


@pytest.mark.parametrize("api", ["responses", "messages"])
def test_tool_cases_graded_equal_the_injected_truth(http: requests.Session, api: str) -> None:
    order: list[str] = []
    args = ("--tool-cases", str(DATASET), "--tool-error-rate", "0.3", "--seed", "5")
    with spawn_mock(*FAST, *args) as mock:
        for i in range(4):
            for case in CASES:
                acc = ask(http, mock, api, case.messages, i % 2 == 0, tools=case.tools,
                          tool_choice=case.tool_choice)  # fmt: skip
                order.append(grade(case.expect, acc.tool_calls, acc.content))
        truth = mock.stats()
    n = 4 * len(CASES)
    assert truth["total"] == n and sum(truth["tool_answers"].values()) == n
    assert dict(Counter(order)) == truth["tool_answers"] and len(set(order)) > 3
    assert order == [r["tool_answer"] for r in truth["requests"]]  # request by request


@pytest.mark.parametrize("api", ["responses", "messages"])
def test_tool_results_go_back_in_the_api_framing(http: requests.Session, api: str) -> None:
    case = next(c for c in CASES if c.id == "parallel-weather-time")
    with spawn_mock(*FAST, "--tool-cases", str(DATASET)) as mock:
        first = ask(http, mock, api, case.messages, True, tools=case.tools)
        calls = first.tool_calls
        assert len(calls) == 2 and grade(case.expect, calls) == "correct"
        turn = {"role": "assistant", "content": None, "tool_calls": calls}
        results = [{"role": "tool", "tool_call_id": c["id"], "content": tool_result(case, c)}
                   for c in calls]  # fmt: skip
        final = ask(http, mock, api, [*case.messages, turn, *results], False, tools=case.tools)
        truth = mock.stats()
    assert final.tool_calls == [] and final.content and final.finish_reason == "stop"
    assert truth["tool_results_received"] == 2 and truth["tool_result_id_mismatches"] == 0


def test_embeddings_batch_and_truth(http: requests.Session) -> None:
    body = embeddings_request_body("mock-llm", HELLO, extra={"input": batch_input("Hi", 5)})
    with spawn_mock("--ttft-ms", "25") as mock:
        resp = post(http, mock, "embeddings", body)
        single = post(http, mock, "embeddings", embeddings_request_body("mock-llm", HELLO))
        bad = post(http, mock, "embeddings", {"model": "mock-llm", "input": []})
        truth = mock.stats()["requests"]
    acc = EmbeddingsStream()
    acc.add_completion(resp.json())
    assert (acc.inputs, acc.dimension, acc.error) == (5, 64, None)
    assert acc.prompt_tokens == len("".join(f"{i}. Hi" for i in range(1, 6))) // 4 + 1
    assert single.json()["data"][0]["index"] == 0 and len(single.json()["data"]) == 1
    assert bad.status_code == 400 and "non-empty list" in body_message(bad.content)
    assert [(r["api"], r.get("inputs"), r["tokens"]) for r in truth[:2]] == [
        ("embeddings", 5, 0), ("embeddings", 1, 0)]  # fmt: skip
    assert truth[0]["e2e_ms"] >= 24  # the TTFT (the event loop wakes up to 1 ms early)


def test_errors_in_each_api_shape(http: requests.Session) -> None:
    with spawn_mock(*FAST, "--api-key", "sk-mock", "--error-rate", "1") as mock:
        wrong = post(http, mock, "messages", {"model": "mock-llm"}, key="sk-wrong")
        unknown = post(http, mock, "responses", {"model": "nope", "input": "x"}, key="sk-mock")
        body = messages_request_body("mock-llm", HELLO, max_tokens=4, temperature=None,
                                     stream=True)  # fmt: skip
        busy = post(http, mock, "messages", body, key="sk-mock")
        missing = post(http, mock, "messages", {**body, "max_tokens": None}, key="sk-mock")
        truth = mock.stats()
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
    assert wrong.json()["type"] == "error" and body_message(wrong.content) == "invalid x-api-key"
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]["message"]
    assert busy.status_code == 503 and busy.json()["error"]["type"] == "overloaded_error"
    assert "injected by llm-load mock" in body_message(busy.content)
    assert missing.status_code == 400 and body_message(missing.content) == (
        "max_tokens: Field required")  # fmt: skip
    assert truth["faults"] == {"http_503": 1}


@pytest.mark.parametrize("api", sorted(APIS))
def test_a_dropped_stream_is_incomplete(http: requests.Session, api: str) -> None:
    build, cls = APIS[api]
    body = build("mock-llm", HELLO, max_tokens=None, temperature=None, stream=True)
    with spawn_mock("--ttft-ms", "0", "--itl-ms", "1", "--tokens", "30", "--drop-rate", "1",
                    "--seed", "3") as mock:  # fmt: skip
        resp = http.post(f"{mock.base_url}/v1/{api}", json=body, headers=messages_headers(None),
                         stream=True, timeout=10)  # fmt: skip
        received = []
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for block in resp.iter_content(None):  # until the mock closes the connection
                received.append(block)
        truth = mock.stats()["requests"][0]
    acc = cls()
    decoder = SSEDecoder()
    for payload in decoder.feed(b"".join(received)) + decoder.flush():
        acc.add(payload, 0.0)
    assert truth["fault"] == "dropped" and not truth["completed"]
    assert acc.token_chunks == truth["tokens"] < 30
    assert not acc.done and acc.finish_reason is None and acc.completion_tokens is None
