"""Pure helpers of `llm-load doctor`: sibling base URLs, close model ids, key resolution,
secret scrubbing, context lengths from `/models` entries, step verdicts."""

from __future__ import annotations

# Locust (gevent) must patch ssl before requests/urllib3 import it, in this pytest process too.
import locust  # noqa: F401

import pytest

from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.endpoint import api_base, display_url, secrets_of
from llm_load.doctor import (
    ApiKey,
    candidate_bases,
    close_models,
    context_length,
    host_for,
    resolve_key,
    scrub,
)
from llm_load.doctor.chat import _stream_step
from llm_load.doctor.endpoint import doubled_path

H = "http://h:8000"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (H, [H + "/api/v1", H]),
        (H + "/", [H + "/api/v1", H]),
        (H + "/v1", [H + "/api/v1", H]),
        (H + "/v1/v1", [H + "/api/v1", H]),
        (H + "/api/v1", [H + "/v1", H + "/api", H]),
        (H + "/api", [H + "/v1", H + "/api", H]),
        (H + "/v1/chat/completions", [H + "/v1", H + "/api/v1", H + "/v1/chat/completions", H]),
        (H + "/v1/models", [H + "/v1", H + "/api/v1", H + "/v1/models", H]),
    ],
)
def test_candidate_bases(url: str, expected: list[str]) -> None:
    bases = candidate_bases(url)
    assert bases == expected
    assert api_base(url) not in bases  # the primary base is tried first, not again
    assert len(set(bases)) == len(bases)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (H + "/v1/v1", ("has /v1 twice", H + "/v1")),
        (H + "/api/v1/v1/", ("has /v1 twice", H + "/api/v1")),
        (H + "/v1/v1/v1", ("has /v1 twice", H + "/v1")),
        (H + "/v1/chat/completions", ("ends with the endpoint path /v1/chat/completions", H)),
        (H + "/chat/completions", ("ends with the endpoint path /chat/completions", H)),
        (H + "/v1/models", ("ends with the endpoint path /v1/models", H)),
        (H + "/v1", None),
        (H + "/v1/v1x", None),
        ("http://v1.example/v1", None),
    ],
)
def test_doubled_path_is_named(url: str, expected: tuple[str, str] | None) -> None:
    found = doubled_path(url)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found[0] == expected[0]
        assert api_base(found[1]) == api_base(expected[1])


@pytest.mark.parametrize(
    ("base", "host"),
    [(H + "/v1", H), (H + "/api/v1", H + "/api"), (H, None), (H + "/api", None)],
)
def test_host_for_round_trips_through_api_base(base: str, host: str | None) -> None:
    assert host_for(base) == host
    if host is not None:
        assert api_base(host) == base


@pytest.mark.parametrize(
    ("wanted", "served", "expected"),
    [
        ("mock-lm", ["mock-llm", "other"], ["mock-llm"]),
        ("Qwen/Qwen3-8B", ["qwen3-8b", "llama"], ["qwen3-8b"]),
        ("qwen3-8b", ["Qwen/Qwen3-8B", "llama"], ["Qwen/Qwen3-8B"]),
        (
            "QWEN3",
            ["Qwen/Qwen3-8B", "Qwen/Qwen3-32B", "gemma"],
            ["Qwen/Qwen3-8B", "Qwen/Qwen3-32B"],
        ),
        ("gpt-4o", ["gemma-3-270m"], []),
        ("a", ["b"], []),
    ],
)
def test_close_models(wanted: str, served: list[str], expected: list[str]) -> None:
    assert close_models(wanted, served) == expected


def test_close_models_caps_the_list() -> None:
    served = [f"model-{i}" for i in range(10)]
    assert len(close_models("model", served)) == 3


@pytest.mark.parametrize(
    ("flag", "environ", "value", "source"),
    [
        ("sk-flag", {"LLM_LOAD_API_KEY": "sk-l", "OPENAI_API_KEY": "sk-o"}, "sk-flag", "--api-key"),
        ("", {"OPENAI_API_KEY": "sk-o"}, "", "--api-key"),  # an explicit empty key is tested
        (None, {"LLM_LOAD_API_KEY": "sk-l", "OPENAI_API_KEY": "sk-o"}, "sk-l", "LLM_LOAD_API_KEY"),
        (None, {"LLM_LOAD_API_KEY": "", "OPENAI_API_KEY": "sk-o"}, "sk-o", "OPENAI_API_KEY"),
        (None, {}, None, "none"),
    ],
)
def test_resolve_key(flag, environ, value, source) -> None:
    key = resolve_key(flag, environ)
    assert (key.value, key.source) == (value, source)
    assert "sk-" not in repr(key) or value is None or "sk-" not in value


def test_api_key_headers_and_problems() -> None:
    assert ApiKey(None, "none").headers() == {}
    assert ApiKey("", "--api-key").headers() == {"Authorization": "Bearer "}
    assert ApiKey("sk-abc", "--api-key").headers() == {"Authorization": "Bearer sk-abc"}
    newline = ApiKey("sk-secret-value-1234\n", "OPENAI_API_KEY")
    assert "line break" in (newline.problem or "") and newline.headers() == {}
    assert newline.shown == "sk-…1234 (with surrounding whitespace)"
    copied = ApiKey("sk-…1234", "--api-key")
    assert "non-ASCII" in (copied.problem or "") and copied.headers() == {}
    assert "secret" not in repr(newline)


def test_scrub_removes_every_form_of_the_key() -> None:
    key = ApiKey("sk-very secret/key-4242", "--api-key")
    secrets = secrets_of("http://user:hunter2pass@h:8000", key)
    text = {
        "a": "Incorrect API key provided: sk-very secret/key-4242.",
        "b": ["url?key=sk-very%20secret%2Fkey-4242", "pw hunter2pass"],
    }
    out = scrub(text, secrets)
    flat = repr(out)
    assert "very secret" not in flat and "very%20secret" not in flat and "hunter2" not in flat
    assert "sk-…4242" in out["a"]


def test_scrub_short_keys_only_as_whole_words() -> None:
    secrets = secrets_of(H, ApiKey("12", "--api-key"))
    assert scrub("TTFT 123 ms, key 12 rejected", secrets) == "TTFT 123 ms, key …**** rejected"


def test_display_url_hides_credentials() -> None:
    assert display_url("http://u:p@h:1/v1") == "http://***@h:1/v1"
    assert display_url(H) == H


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"id": "m", "max_model_len": 8192}, (8192, "max_model_len")),
        ({"id": "m", "context_length": 4096}, (4096, "context_length")),
        ({"id": "m", "meta": {"n_ctx_train": 32768, "n_vocab": 1}}, (32768, "meta.n_ctx_train")),
        ({"id": "m", "max_model_len": True}, (None, None)),
        ({"id": "m"}, (None, None)),
    ],
)
def test_context_length(entry, expected) -> None:
    assert context_length(entry) == expected


def _stream(*payloads: bytes) -> ChatStream:
    chat = ChatStream()
    for i, payload in enumerate(payloads):
        chat.add(payload, 0.01 * (i + 1))
    return chat


ROLE = b'{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'
TOKEN = b'{"choices":[{"index":0,"delta":{"content":"hi"}}]}'
USAGE = b'{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}'
SSE = "text/event-stream; charset=utf-8"


@pytest.mark.parametrize(
    ("payloads", "ctype", "level", "words"),
    [
        ((ROLE, TOKEN, USAGE, b"[DONE]"), SSE, "ok", ["TTFT 20 ms", "[DONE] seen", "role chunk"]),
        ((ROLE, TOKEN, b"[DONE]"), SSE, "warn", ["usage not reported"]),
        ((ROLE, TOKEN, USAGE), SSE, "warn", ["without data: [DONE]"]),
        ((ROLE, TOKEN, USAGE, b"[DONE]"), "application/json", "warn", ["not text/event-stream"]),
        ((ROLE, b"{not json", TOKEN, USAGE), SSE, "fail", ["1 events are not JSON"]),
        ((ROLE, USAGE, b"[DONE]"), SSE, "fail", ["no content"]),
        ((b'{"error":{"message":"boom"}}',), SSE, "fail", ["“boom”"]),
        ((), "text/html", "fail", ["no SSE events (Content-Type: text/html)"]),
    ],
)
def test_stream_step_levels(payloads, ctype, level, words) -> None:
    step = _stream_step(_stream(*payloads), ctype, len(payloads), 50.0)
    assert step.level == level, step.message
    for word in words:
        assert word in step.message
