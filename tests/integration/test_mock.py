"""Integration tests of the embedded mock server (real sockets, subprocess via spawn_mock)."""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import socket
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest

from llm_load.mock import MockProcess, spawn_mock
from llm_load.mock.cli import build_parser, config_from_args
from llm_load.mock.config import DEFAULT_REPLY_TOKENS, MAX_REPLY_TOKENS
from llm_load.mock.payload import VOCAB

TTFT_MS, ITL_MS, TOKENS = 30.0, 5.0, 16
API_KEY = "sk-test-very-secret-4242"
MSGS = [{"role": "user", "content": "Hello there, mock!"}]


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def mock(request: pytest.FixtureRequest) -> Iterator[MockProcess]:
    """The shared mock, once with uvloop and once with the stdlib loop (``--no-uvloop``)."""
    args = ("--ttft-ms", str(TTFT_MS), "--itl-ms", str(ITL_MS), "--tokens", str(TOKENS))
    loop = ("--no-uvloop",) if request.param == "asyncio" else ()
    with spawn_mock(*args, *loop) as proc:
        yield proc


# --------------------------------------------------------------------------- helpers


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = bytearray()
        while chunk := sock.recv(65536):
            out += chunk
    return bytes(out)


def build_request(
    method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> bytes:
    """An HTTP/1.1 request with ``Connection: close``; ``body`` may be bytes or JSON-able."""
    raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if raw is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(raw)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (raw or b"")


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    return status, headers, body


def dechunk(body: bytes) -> list[bytes]:
    """Strictly decode a chunked body into its chunks (asserting valid framing)."""
    chunks, pos = [], 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol], 16)
        start = eol + 2
        if size == 0:
            assert body[start:] == b"\r\n", "bad chunked terminator"
            return chunks
        assert body[start + size : start + size + 2] == b"\r\n", "chunk not followed by CRLF"
        chunks.append(body[start : start + size])
        pos = start + size + 2


def sse_events(data: bytes) -> list[str]:
    """Tiny SSE parser: the ``data:`` payload of every event."""
    text = data.decode("utf-8")
    assert text.endswith("\n\n")
    events = []
    for block in text[:-2].split("\n\n"):
        assert block.startswith("data: "), block
        events.append(block[len("data: ") :])
    return events


def call(mock: MockProcess, method: str, path: str, body: Any = None, **headers: str) -> Any:
    """Non-streaming request; return (status, headers, raw body)."""
    raw = raw_exchange(mock.port, build_request(method, path, body, headers))
    return split_response(raw)


def stream(mock: MockProcess, body: dict[str, Any]) -> tuple[list[bytes], list[dict | str]]:
    """Streamed chat completion; return the HTTP chunks and the decoded SSE events."""
    status, headers, payload = call(mock, "POST", "/v1/chat/completions", body)
    assert status == 200, payload
    assert headers["content-type"] == "text/event-stream"
    assert headers["cache-control"] == "no-cache"
    assert headers["transfer-encoding"] == "chunked"
    chunks = dechunk(payload)
    events = sse_events(b"".join(chunks))
    return chunks, [e if e == "[DONE]" else json.loads(e) for e in events]


def chat(model: str | None = "mock-llm", stream_: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": MSGS, "stream": stream_, **extra}
    if model is not None:
        body["model"] = model
    return body


def content_of(events: list[Any]) -> list[str]:
    return [e["choices"][0]["delta"]["content"] for e in events[1:] if _is_token(e)]


def _is_token(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and bool(event["choices"])
        and "content" in (event["choices"][0]["delta"])
    )


# --------------------------------------------------------------------------- basics


@pytest.mark.timeout(30)
def test_health_and_models(mock: MockProcess) -> None:
    status, _, body = call(mock, "GET", "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, _, body = call(mock, "GET", "/v1/models")
    doc = json.loads(body)
    assert status == 200 and doc["object"] == "list"
    assert [m["id"] for m in doc["data"]] == ["mock-llm", "mock-llm-slow"]
    for model in doc["data"]:
        assert model["object"] == "model" and model["owned_by"] == "llm-load-mock"
        assert isinstance(model["created"], int) and model["max_model_len"] == 8192


@pytest.mark.timeout(30)
@pytest.mark.parametrize("include_usage", [True, False])
def test_stream_format(mock: MockProcess, include_usage: bool) -> None:
    body = chat(stream_options={"include_usage": include_usage})
    chunks, events = stream(mock, body)
    role, *tokens = events[: TOKENS + 1]
    assert role["object"] == "chat.completion.chunk"
    assert role["id"].startswith("chatcmpl-") and role["model"] == "mock-llm"
    assert role["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
         "finish_reason": None}
    ]  # fmt: skip
    assert all(_is_token(t) and t["choices"][0]["finish_reason"] is None for t in tokens)
    assert all(t["id"] == role["id"] for t in tokens)
    finish = events[TOKENS + 1]
    assert finish["choices"][0]["delta"] == {} and finish["choices"][0]["finish_reason"] == "stop"
    rest = events[TOKENS + 2 :]
    if include_usage:
        usage_event, done = rest
        assert usage_event["choices"] == []
        prompt = len(MSGS[0]["content"]) // 4 + 1
        assert usage_event["usage"] == {
            "prompt_tokens": prompt, "completion_tokens": TOKENS, "total_tokens": prompt + TOKENS
        }  # fmt: skip
    else:
        (done,) = rest
        assert all("usage" not in e for e in events if isinstance(e, dict))
    assert done == "[DONE]"
    # role chunk and every token chunk are separate HTTP chunks holding exactly one event
    assert all(c.count(b"data: ") == 1 for c in chunks[: TOKENS + 1])


@pytest.mark.timeout(30)
def test_escaped_tokens_round_trip() -> None:
    n = len(VOCAB)
    spawned = spawn_mock("--ttft-ms", "1", "--itl-ms", "0", "--tokens", str(n + 3))
    with spawned as fast:
        _, events = stream(fast, chat())
        status, _, body = call(fast, "POST", "/v1/chat/completions", chat(stream_=False))
    pieces = content_of(events)
    assert pieces == [VOCAB[i % n] for i in range(n + 3)]
    text = "".join(pieces)
    for needle in ('"', "\\", "\n", "é", "🚀"):
        assert needle in text
    assert status == 200 and json.loads(body)["choices"][0]["message"]["content"] == text


@pytest.mark.timeout(30)
def test_non_streaming(mock: MockProcess) -> None:
    messages = [{"role": "system", "content": "x" * 10}, {"role": "user", "content": "y" * 31}]
    t0 = time.perf_counter()
    status, headers, body = call(
        mock, "POST", "/v1/chat/completions", {"model": "mock-llm", "messages": messages}
    )
    elapsed_ms = (time.perf_counter() - t0) * 1e3
    doc = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert doc["object"] == "chat.completion" and doc["model"] == "mock-llm"
    choice = doc["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == "".join(VOCAB[i] for i in range(TOKENS))
    assert doc["usage"] == {"prompt_tokens": 41 // 4 + 1, "completion_tokens": TOKENS,
                            "total_tokens": 41 // 4 + 1 + TOKENS}  # fmt: skip
    assert elapsed_ms >= TTFT_MS + (TOKENS - 1) * ITL_MS - 1.5


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("extra", "expected", "reason"),
    [
        ({"max_tokens": 4}, 4, "length"),
        ({"max_completion_tokens": 3}, 3, "length"),
        ({"max_completion_tokens": 2, "max_tokens": 9}, 2, "length"),
        ({"max_tokens": TOKENS}, TOKENS, "stop"),
        ({"max_tokens": 1000}, TOKENS, "stop"),
    ],
)
def test_token_caps(mock: MockProcess, extra: dict[str, int], expected: int, reason: str) -> None:
    _, events = stream(mock, chat(**extra))
    assert len(content_of(events)) == expected
    assert events[expected + 1]["choices"][0]["finish_reason"] == reason
    _, _, body = call(mock, "POST", "/v1/chat/completions", chat(stream_=False, **extra))
    doc = json.loads(body)
    assert doc["choices"][0]["finish_reason"] == reason
    assert doc["usage"]["completion_tokens"] == expected


@pytest.fixture(scope="module")
def base_model() -> Iterator[MockProcess]:
    """A mock without --tokens: replies run to the request's max_tokens."""
    with spawn_mock("--ttft-ms", "1", "--itl-ms", "0") as proc:
        yield proc


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("extra", "expected", "reason"),
    [
        ({"max_tokens": 128}, 128, "length"),
        ({"max_completion_tokens": 200, "max_tokens": 9}, 200, "length"),
        ({"max_tokens": 5000}, MAX_REPLY_TOKENS, "length"),  # the documented cap
        ({}, DEFAULT_REPLY_TOKENS, "stop"),
    ],
)
def test_without_tokens_replies_run_to_max_tokens(base_model, extra, expected, reason) -> None:
    base_model.reset()
    _, events = stream(base_model, chat(**extra))
    assert len(content_of(events)) == expected
    assert events[expected + 1]["choices"][0]["finish_reason"] == reason
    _, _, body = call(base_model, "POST", "/v1/chat/completions", chat(stream_=False, **extra))
    doc = json.loads(body)
    assert doc["choices"][0]["finish_reason"] == reason
    assert doc["usage"]["completion_tokens"] == expected
    truth = base_model.stats()["requests"]
    assert [r["tokens"] for r in truth] == [expected, expected]  # the truth counts them


# --------------------------------------------------------------------------- errors


@pytest.mark.timeout(30)
def test_api_key_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_LOAD_MOCK_API_KEY", "not-this-one")  # spawn_mock drops it
    seen: list[bytes] = []
    with spawn_mock("--api-key", API_KEY, "--ttft-ms", "1", "--itl-ms", "1") as secured:
        port = secured.port
        cases = [
            ({}, "Missing API key: send 'Authorization: Bearer <key>'"),
            ({"Authorization": "Bearer "}, "Empty API key"),
            ({"Authorization": "Bearer wrong-key"}, "Invalid API key"),
            ({"Authorization": f"Basic {API_KEY}"}, "Invalid API key"),
        ]
        for path, method in (("/v1/models", "GET"), ("/v1/chat/completions", "POST")):
            for headers, message in cases:
                raw = raw_exchange(port, build_request(method, path, chat(), headers))
                seen.append(raw)
                status, _, body = split_response(raw)
                assert status == 401
                assert json.loads(body) == {"error": {"message": message,
                    "type": "authentication_error", "code": 401}}  # fmt: skip
        good = {"Authorization": f"Bearer {API_KEY}"}
        for path, method in (("/v1/models", "GET"), ("/v1/chat/completions", "POST")):
            raw = raw_exchange(port, build_request(method, path, chat(), good))
            seen.append(raw)
            assert split_response(raw)[0] == 200
        for path in ("/health", "/stats?detail=1"):  # no auth needed
            raw = raw_exchange(port, build_request("GET", path))
            seen.append(raw)
            assert split_response(raw)[0] == 200
        secured.proc.terminate()
        assert secured.proc.wait(10) == 0  # SIGTERM -> clean exit 0
        assert secured.proc.stdout is not None
        rest_of_stdout = secured.proc.stdout.read()  # the ready line was the only line
    assert rest_of_stdout == b"" and secured.close() == 0
    assert API_KEY not in secured.base_url and API_KEY not in secured.stderr_text()
    assert not any(API_KEY.encode() in raw for raw in seen)


@pytest.mark.timeout(30)
def test_error_responses(mock: MockProcess) -> None:
    status, _, body = call(mock, "POST", "/v1/chat/completions", chat(model="nope"))
    assert status == 404
    assert json.loads(body) == {"error": {"message": "The model `nope` does not exist.",
                                          "type": "NotFoundError", "code": 404}}  # fmt: skip
    status, _, body = call(mock, "GET", "/v2/whatever?x=1")
    assert status == 404
    assert json.loads(body) == {"error": {"message": "Not Found: /v2/whatever",
                                          "type": "not_found_error", "code": 404}}  # fmt: skip
    status, headers, body = call(mock, "GET", "/v1/chat/completions")
    assert status == 405 and "POST" in headers["allow"] and json.loads(body)["error"]["code"] == 405
    for bad in (b"{not json", b"[1, 2]", json.dumps({"model": "mock-llm"}).encode(),
                json.dumps({"messages": "hi"}).encode(),
                json.dumps({"messages": MSGS, "max_tokens": 0}).encode()):  # fmt: skip
        status, _, body = call(mock, "POST", "/v1/chat/completions", bad)
        error = json.loads(body)["error"]
        assert status == 400 and error["code"] == 400 and error["message"], bad


@pytest.mark.timeout(30)
def test_spawn_failure_reports_stderr() -> None:
    with pytest.raises(RuntimeError, match="tokens must be >= 1"):
        spawn_mock("--tokens", "0")


def test_cli_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_LOAD_MOCK_API_KEY", API_KEY)
    assert config_from_args(build_parser().parse_args([])).api_key == API_KEY
    assert API_KEY not in repr(config_from_args(build_parser().parse_args([])))
    monkeypatch.delenv("LLM_LOAD_MOCK_API_KEY")
    args = build_parser().parse_args(["--model", "a=10/2.5", "--model", "b=20/5", "--jitter", ".1"])
    config = config_from_args(args)
    assert [(m.name, m.ttft_ms, m.itl_ms) for m in config.models] == [("a", 10, 2.5), ("b", 20, 5)]
    assert config.jitter == 0.1 and config.host == "127.0.0.1" and config.port == 8000
    defaults = config_from_args(build_parser().parse_args(["--ttft-ms", "7", "--itl-ms", "3"]))
    assert [(m.name, m.ttft_ms, m.itl_ms) for m in defaults.models] == [
        ("mock-llm", 7, 3), ("mock-llm-slow", 14, 6)]  # fmt: skip
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--model", "broken"])


# --------------------------------------------------------------------------- ground truth


def median_of(records: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in records)


def measure_truth(
    mock: MockProcess, bodies: list[dict[str, Any]], expected: dict[str, tuple[float, float]]
) -> list[dict[str, Any]]:
    """Stream ``bodies`` one by one and return the mock's detailed truth records.

    Timing is checked on medians, and the measurement is repeated (up to 3 times) when another
    process on this shared machine made the mock late: the assertions then see the last try.
    """
    for _ in range(3):
        mock.reset()
        for body in bodies:
            stream(mock, body)
        records = mock.stats(detail=True)["requests"]
        if all(on_time(records, model, *timing) for model, timing in expected.items()):
            break
    return records


def on_time(records: list[dict[str, Any]], model: str, ttft: float, itl: float) -> bool:
    """Median TTFT and ITL of ``model``'s records within 2 ms of the configured values."""
    mine = [r for r in records if r["model"] == model]
    return bool(mine) and (
        abs(median_of(mine, "ttft_ms") - ttft) < 2.0
        and abs(median_of(mine, "itl_ms_mean") - itl) < 2.0
    )


@pytest.mark.timeout(60)
def test_truth_matches_configuration(mock: MockProcess) -> None:
    body = chat(messages=[{"role": "user", "content": "abcdefgh"}] * 3)
    records = measure_truth(mock, [body] * 7, {"mock-llm": (TTFT_MS, ITL_MS)})
    assert len(records) == 7
    assert "token_offsets_ms" not in mock.stats()["requests"][0]
    assert abs(median_of(records, "ttft_ms") - TTFT_MS) < 2.0
    assert abs(median_of(records, "itl_ms_mean") - ITL_MS) < 2.0
    for rec in records:
        assert rec["status"] == 200 and rec["stream"] and rec["completed"]
        assert rec["model"] == "mock-llm" and rec["messages"] == 3 and rec["prompt_chars"] == 24
        assert rec["tokens"] == TOKENS and len(rec["token_offsets_ms"]) == TOKENS
        offsets = rec["token_offsets_ms"]
        assert offsets[0] == pytest.approx(rec["ttft_ms"])
        assert all(b > a for a, b in itertools.pairwise(offsets))
        assert rec["e2e_ms"] >= offsets[-1]


@pytest.mark.timeout(30)
def test_truth_records_errors(mock: MockProcess) -> None:
    mock.reset()
    call(mock, "POST", "/v1/chat/completions", chat(model="nope"))
    call(mock, "POST", "/v1/chat/completions", chat(stream_=False, max_tokens=3))
    error, ok = mock.stats()["requests"]
    assert error["status"] == 404 and error["ttft_ms"] is None and not error["completed"]
    assert ok["status"] == 200 and not ok["stream"] and ok["tokens"] == 3 and ok["completed"]
    assert ok["ttft_ms"] == pytest.approx(ok["e2e_ms"])
    assert ok["e2e_ms"] >= TTFT_MS + 2 * ITL_MS - 1.5


@pytest.mark.timeout(30)
def test_per_model_latency(mock: MockProcess) -> None:
    expected = {"mock-llm": (TTFT_MS, ITL_MS), "mock-llm-slow": (2 * TTFT_MS, 2 * ITL_MS)}
    bodies = [chat(model=model, max_tokens=8) for model in expected] * 7
    records = measure_truth(mock, bodies, expected)
    for model, (ttft, itl) in expected.items():
        assert sum(r["model"] == model for r in records) == 7
        assert on_time(records, model, ttft, itl), [r for r in records if r["model"] == model]


@pytest.mark.timeout(30)
def test_custom_models_and_jitter() -> None:
    with spawn_mock("--model", "a=5/1", "--model", "b=15/4", "--jitter", "0.5", "--seed", "3",
                    "--tokens", "30") as custom:  # fmt: skip
        _, _, body = call(custom, "GET", "/v1/models")
        assert [m["id"] for m in json.loads(body)["data"]] == ["a", "b"]
        _, events = stream(custom, chat(model=None))  # no model -> first model
        assert events[0]["model"] == "a"
        stream(custom, chat(model="b"))
        first, second = custom.stats(detail=True)["requests"]
    assert (first["model"], second["model"]) == ("a", "b")
    offsets = second["token_offsets_ms"]
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert max(gaps) - min(gaps) > 1.5  # jitter in [2, 6] ms
    assert 2.0 < statistics.mean(gaps) < 6.0


@pytest.mark.timeout(30)
def test_disconnect_mid_stream(mock: MockProcess) -> None:
    mock.reset()
    with socket.create_connection(("127.0.0.1", mock.port), timeout=10) as sock:
        sock.sendall(build_request("POST", "/v1/chat/completions", chat()))
        received = b""
        while received.count(b'"content":"') < 4:  # role chunk + 3 tokens
            received += sock.recv(65536)
    time.sleep((TTFT_MS + TOKENS * ITL_MS) / 1e3 + 0.2)  # past the scheduled end
    (rec,) = mock.stats()["requests"]
    assert rec["completed"] is False and rec["status"] == 200
    assert 3 <= rec["tokens"] < TOKENS


# --------------------------------------------------------------------------- connections


async def _one_stream(port: int, body: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(body)
        raw = await reader.read(-1)
    finally:
        writer.close()
    status, _, payload = split_response(raw)
    assert status == 200
    events = sse_events(b"".join(dechunk(payload)))
    return len(content_of([json.loads(e) for e in events if e != "[DONE]"]))


@pytest.mark.timeout(60)
def test_concurrent_streams(mock: MockProcess) -> None:
    mock.reset()
    request = build_request("POST", "/v1/chat/completions", chat())

    async def run_all() -> list[int]:
        return await asyncio.gather(*(_one_stream(mock.port, request) for _ in range(200)))

    counts = asyncio.run(asyncio.wait_for(run_all(), 30))
    assert counts == [TOKENS] * 200
    records = mock.stats()["requests"]
    assert len(records) == 200
    assert all(r["completed"] and r["tokens"] == TOKENS for r in records)


@pytest.mark.timeout(30)
def test_keep_alive_and_connection_close(mock: MockProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
    try:
        conn.request("POST", "/v1/chat/completions", json.dumps(chat()))
        resp = conn.getresponse()
        text = resp.read().decode()
        sock = conn.sock
        assert resp.status == 200 and text.endswith("data: [DONE]\n\n")
        conn.request("POST", "/v1/chat/completions", json.dumps(chat(stream_=False)))
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["object"] == "chat.completion"
        assert conn.sock is sock  # same TCP connection reused
    finally:
        conn.close()
    # `Connection: close` is honoured: the server closes after the response
    raw = raw_exchange(mock.port, build_request("GET", "/health"))
    assert split_response(raw)[1]["connection"] == "close"


@pytest.mark.timeout(30)
def test_pipelined_requests(mock: MockProcess) -> None:
    first = build_request("POST", "/v1/chat/completions", chat(max_tokens=2)).replace(
        b"Connection: close", b"Connection: keep-alive"
    )
    raw = raw_exchange(mock.port, first + build_request("GET", "/health"))
    head1, _, rest = raw.partition(b"\r\n\r\n")
    assert head1.startswith(b"HTTP/1.1 200") and b"event-stream" in head1
    end = rest.index(b"\r\n0\r\n\r\n") + len(b"\r\n0\r\n\r\n")
    assert len(content_of([json.loads(e) for e in sse_events(b"".join(dechunk(rest[:end])))
                           if e != "[DONE]"])) == 2  # fmt: skip
    status, _, body = split_response(rest[end:])
    assert status == 200 and json.loads(body) == {"status": "ok"}
