"""The mock's misbehaviour switches (--root-path, --block-prompt, --no-usage, --no-tools) and
its minimal tool calling, over real sockets."""

from __future__ import annotations

# Locust (gevent) must patch ssl before requests/urllib3 import it, in this pytest process too.
import locust  # noqa: F401

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.sse import SSEDecoder
from llm_load.mock import MockProcess, spawn_mock
from llm_load.mock.cli import build_parser, config_from_args
from llm_load.mock.tools import NO_TOOLS_MESSAGE, arguments

pytestmark = pytest.mark.timeout(60)
FAST = ("--ttft-ms", "1", "--itl-ms", "1", "--tokens", "4")
MSGS = [{"role": "user", "content": "Hello"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
                "optional": {"type": "string"},
            },
            "required": ["city", "unit", "days"],
        },
    },
}


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # never through a proxy from the environment
        yield session


@pytest.fixture(scope="module")
def plain() -> Iterator[MockProcess]:
    with spawn_mock(*FAST) as mock:
        yield mock


def post(http: requests.Session, url: str, **body: Any) -> requests.Response:
    return http.post(url, json={"messages": MSGS, **body}, timeout=10)


def streamed(resp: requests.Response) -> ChatStream:
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/event-stream"
    decoder, chat = SSEDecoder(), ChatStream()
    for payload in decoder.feed(resp.content) + decoder.flush():
        chat.add(payload, 0.0)
    assert chat.done and chat.invalid_chunks == 0
    return chat


def test_root_path_moves_the_openai_routes(http: requests.Session) -> None:
    with spawn_mock(*FAST, "--root-path", "/api/") as mock:  # a trailing slash is tolerated
        root = mock.base_url
        missing = http.get(root + "/v1/models", timeout=10)
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "Not Found: /v1/models"
        assert http.get(root + "/api/v1/models", timeout=10).json()["data"][0]["id"] == "mock-llm"
        assert post(http, root + "/api/v1/chat/completions").status_code == 200
        assert post(http, root + "/v1/chat/completions").status_code == 404
        assert http.get(root + "/health", timeout=10).status_code == 200  # stays at the root
        assert mock.stats()["count"] == 1


def test_block_prompt(http: requests.Session) -> None:
    with spawn_mock(*FAST, "--block-prompt", "Secret") as mock:
        url = mock.base_url + "/v1/chat/completions"
        for content in ("tell me a SECRET", [{"type": "text", "text": "the secret word"}]):
            resp = http.post(url, json={"messages": [{"role": "user", "content": content}]})
            assert resp.status_code == 403
            assert resp.json() == {"error": {"message": "Prompt blocked for security reasons",
                                             "type": "content_filter", "code": 403}}  # fmt: skip
        assert post(http, url).status_code == 200
        assert [r["status"] for r in mock.stats()["requests"]] == [403, 403, 200]


def test_no_usage(http: requests.Session) -> None:
    with spawn_mock(*FAST, "--no-usage") as mock:
        url = mock.base_url + "/v1/chat/completions"
        doc = post(http, url).json()
        assert "usage" not in doc and doc["choices"][0]["message"]["content"]
        chat = streamed(post(http, url, stream=True, stream_options={"include_usage": True}))
        assert chat.usage is None and chat.content


def test_usage_still_reported_by_default(http: requests.Session, plain: MockProcess) -> None:
    url = plain.base_url + "/v1/chat/completions"
    assert post(http, url).json()["usage"]["completion_tokens"] == 4
    chat = streamed(post(http, url, stream=True, stream_options={"include_usage": True}))
    assert chat.usage == {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}


def test_no_tools_answers_like_vllm(http: requests.Session) -> None:
    with spawn_mock(*FAST, "--no-tools") as mock:
        url = mock.base_url + "/v1/chat/completions"
        for stream in (False, True):
            resp = post(http, url, tools=[WEATHER], tool_choice="required", stream=stream)
            assert resp.status_code == 400
            assert resp.json() == {"object": "error", "message": NO_TOOLS_MESSAGE,
                                   "type": "BadRequestError", "code": 400}  # fmt: skip
        assert post(http, url).status_code == 200  # without tools: fine


def test_tool_call_non_streaming(http: requests.Session, plain: MockProcess) -> None:
    url = plain.base_url + "/v1/chat/completions"
    choice = post(http, url, tools=[WEATHER], tool_choice="required").json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None and len(message["tool_calls"]) == 1
    call = message["tool_calls"][0]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {
        "city": "test",
        "unit": "celsius",
        "days": 1,
    }


def test_tool_call_streaming(http: requests.Session, plain: MockProcess) -> None:
    url = plain.base_url + "/v1/chat/completions"
    other = {"type": "function", "function": {"name": "other", "parameters": {}}}
    resp = post(http, url, tools=[WEATHER, other], stream=True,
                tool_choice={"type": "function", "function": {"name": "other"}},
                stream_options={"include_usage": True})  # fmt: skip
    chat = streamed(resp)
    assert chat.role_seen and chat.finish_reason == "tool_calls" and chat.content == ""
    assert [c["function"] for c in chat.tool_calls] == [{"name": "other", "arguments": "{}"}]
    assert chat.usage is not None and chat.token_chunks == 1


def test_tool_choice_none_and_bad_tools(http: requests.Session, plain: MockProcess) -> None:
    url = plain.base_url + "/v1/chat/completions"
    doc = post(http, url, tools=[WEATHER], tool_choice="none").json()
    assert doc["choices"][0]["message"]["content"] and doc["choices"][0]["finish_reason"] == "stop"
    assert post(http, url, tools=[{"type": "function"}]).status_code == 400
    unknown = {"type": "function", "function": {"name": "nope"}}
    assert post(http, url, tools=[WEATHER], tool_choice=unknown).status_code == 400


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (None, {}),
        ({"type": "object"}, {}),
        ({"properties": {"n": {"type": "number"}, "b": {"type": "boolean"}},
          "required": ["n", "b"]}, {"n": 1.0, "b": True}),
        ({"properties": {}, "required": ["untyped"]}, {"untyped": "test"}),
    ],
)  # fmt: skip
def test_placeholder_arguments(parameters: Any, expected: dict[str, Any]) -> None:
    assert arguments(parameters) == expected


def test_cli_flags_reach_the_config() -> None:
    args = ["--root-path", "/api/", "--block-prompt", "w", "--no-usage", "--no-tools"]
    config = config_from_args(build_parser().parse_args(args))
    assert (config.root_path, config.block_prompt, config.usage, config.tools) == (
        "/api", "w", False, False)  # fmt: skip
    defaults = config_from_args(build_parser().parse_args([]))
    assert (defaults.root_path, defaults.block_prompt, defaults.usage, defaults.tools) == (
        "", None, True, True)  # fmt: skip
    with pytest.raises(ValueError, match="root path"):
        config_from_args(build_parser().parse_args(["--root-path", "api"]))


def test_parallel_slots_queue_requests_and_ttft_counts_the_wait() -> None:
    """Four streams at once on two slots: two start at once, two after a whole reply."""
    from concurrent.futures import ThreadPoolExecutor

    body = {"model": "mock-llm", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with spawn_mock("--ttft-ms", "30", "--itl-ms", "10", "--tokens", "10", "--parallel", "2") as m:
        url = m.base_url + "/v1/chat/completions"
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda _: requests.post(url, json=body, timeout=10), range(4)))
        truth = sorted(r["ttft_ms"] for r in m.stats()["requests"])
    assert [c.status_code for c in codes] == [200] * 4
    reply_ms = 30 + 9 * 10
    assert truth[0] == pytest.approx(30, abs=15) and truth[1] == pytest.approx(30, abs=15)
    assert truth[2] == pytest.approx(30 + reply_ms, abs=25)
    assert truth[3] == pytest.approx(30 + reply_ms, abs=25)
