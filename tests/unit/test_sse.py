"""Tests for llm_load.core.wire.sse.SSEDecoder: recorded streams, splits, spec edge cases."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from llm_load.core.wire.sse import SSEDecoder

STREAMS = Path(__file__).resolve().parent.parent / "fixtures" / "streams"
FIXTURES = sorted(p.name for p in STREAMS.glob("*.sse"))
DONE = b"[DONE]"


def load(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


def decode(blocks: Iterable[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    out: list[bytes] = []
    for block in blocks:
        out += decoder.feed(block)
    return out + decoder.flush()


def decode_strict(blocks: Iterable[bytes]) -> list[bytes]:
    """Like decode() but asserts flush() has nothing left (stream ended on a blank line)."""
    decoder = SSEDecoder()
    out: list[bytes] = []
    for block in blocks:
        out += decoder.feed(block)
    assert decoder.flush() == []
    return out


def reference_decode(stream: bytes) -> list[bytes]:
    """Straightforward spec decoder on the whole stream, with the same lenient EOF rule."""
    if stream.startswith(b"\xef\xbb\xbf"):
        stream = stream[3:]
    lines = re.split(rb"\r\n|\r|\n", stream)
    if lines[-1] == b"":  # stream ended with a terminator: no unterminated last line
        lines.pop()
    events: list[bytes] = []
    data: list[bytes] | None = None
    for line in [*lines, b""]:
        if line == b"":
            if data is not None:
                events.append(b"\n".join(data))
            data = None
            continue
        field, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data = [*(data or []), value]
        elif field == b"error" and colon:  # our extension: llama.cpp's old in-stream errors
            try:
                json.loads(value)
            except ValueError:
                value = json.dumps(value.decode("utf-8", "replace")).encode()
            data = [*(data or []), b'{"error":' + value + b"}"]
    return events


def event_blocks(stream: bytes, per_block: int) -> list[bytes]:
    """Cut an LF stream at event boundaries, ``per_block`` events per block."""
    events = [e + b"\n\n" for e in stream.split(b"\n\n")[:-1]]
    return [b"".join(events[i : i + per_block]) for i in range(0, len(events), per_block)]


def json_events(events: list[bytes]) -> list[dict]:
    assert events[-1] == DONE
    return [json.loads(e) for e in events[:-1]]


# --- every fixture: split anywhere gives the same events --------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_every_split_point_matches_whole(name: str) -> None:
    stream = load(name)
    whole = decode_strict([stream])
    assert whole == reference_decode(stream)
    for cut in range(len(stream) + 1):
        assert decode_strict([stream[:cut], stream[cut:]]) == whole, f"split at {cut}"


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_byte_by_byte_matches_whole(name: str) -> None:
    stream = load(name)
    blocks = [stream[i : i + 1] for i in range(len(stream))]
    assert decode_strict(blocks) == decode_strict([stream])


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("per_block", [1, 2, 3, 16])
def test_fixture_event_aligned_blocks_match_whole(name: str, per_block: int) -> None:
    stream = load(name).replace(b"\r\n", b"\n")
    assert decode_strict(event_blocks(stream, per_block)) == decode_strict([stream])


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_random_chunking_matches_whole(name: str) -> None:
    stream = load(name)
    whole = decode_strict([stream])
    rng = random.Random(name)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 20)))
        blocks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert decode_strict(blocks) == whole


# --- expected content of each recorded stream --------------------------------------------


def test_vllm_chat_stream() -> None:
    events = decode_strict([load("vllm_chat.sse")])
    assert len(events) == 11
    chunks = json_events(events)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "The capital of France is Paris."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 24, "total_tokens": 32, "completion_tokens": 8}


def test_llamacpp_chat_stream() -> None:
    events = decode_strict([load("llamacpp_chat.sse")])
    assert len(events) == 12
    chunks = json_events(events)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    tokens = [c["choices"][0]["delta"]["content"] for c in chunks[1:9]]
    assert tokens == ["Once", " upon", " a", " time", ",", " in", " a", " land"]
    assert chunks[9]["choices"][0] == {"finish_reason": "length", "index": 0, "delta": {}}
    usage_chunk = chunks[10]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 8
    timings = usage_chunk["timings"]
    assert {"prompt_n", "prompt_ms", "predicted_n", "predicted_ms"} <= timings.keys()
    assert {"predicted_per_token_ms", "predicted_per_second"} <= timings.keys()
    assert timings["predicted_n"] == 8


def test_crlf_stream_equals_its_lf_version() -> None:
    stream = load("crlf.sse")
    assert b"\r\n\r\n" in stream and b"\n\n" not in stream.replace(b"\r\n", b"")
    events = decode_strict([stream])
    assert len(events) == 6 and events[-1] == DONE
    assert all(b"\r" not in e for e in events)
    assert events == decode_strict([stream.replace(b"\r\n", b"\n")])
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in json_events(events))
    assert text == "Hello there!"


def test_comments_and_ignored_fields() -> None:
    events = decode_strict([load("comments_fields.sse")])
    assert len(events) == 5 and events[-1] == DONE
    deltas = [c["choices"][0]["delta"] for c in json_events(events)]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "Hi"}, {"content": "!"}, {}]
    assert not any(e.startswith((b":", b"event", b"id", b"retry")) for e in events)


def test_multiline_data_event() -> None:
    events = decode_strict([load("multiline_data.sse")])
    assert len(events) == 4
    assert events[0].startswith(b'{\n  "id"') and events[0].endswith(b"\n}")
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "multi"
    assert json.loads(events[1])["choices"][0]["delta"]["content"] == " line"  # "data:" no space
    assert events[2] == b"first line\n\n two spaces keep one"
    assert events[3] == DONE


def test_escaped_quotes_unicode_and_emoji() -> None:
    events = decode_strict([load("escaped_unicode.sse")])
    assert len(events) == 12
    text = "".join(c["choices"][0]["delta"]["content"] for c in json_events(events))
    assert text == 'He said "hi"\nLine\ttwo \\ backslash café – naïve 日本語 🚀🔥 👩‍💻\n\ndone'


def test_in_stream_error_event() -> None:
    events = decode_strict([load("error_event.sse")])
    assert len(events) == 5 and events[-1] == DONE
    error = json.loads(events[3])["error"]
    assert error["code"] == 500 and error["type"] == "InternalServerError"
    assert "out of memory" in error["message"]


def test_parallel_tool_calls_stream() -> None:
    events = decode_strict([load("tool_calls.sse")])
    assert len(events) == 16
    calls: dict[int, dict[str, str]] = {}
    for chunk in json_events(events):
        for choice in chunk["choices"]:
            for call in choice["delta"].get("tool_calls", []):
                slot = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                slot["id"] += call.get("id", "")
                slot["name"] += call.get("function", {}).get("name", "")
                slot["arguments"] += call.get("function", {}).get("arguments", "")
    assert sorted(calls) == [0, 1]
    assert calls[0]["name"] == "get_weather" and calls[1]["name"] == "get_local_time"
    assert json.loads(calls[0]["arguments"]) == {"location": "Paris, France", "unit": "celsius"}
    assert json.loads(calls[1]["arguments"]) == {"timezone": "Europe/Paris"}
    assert json.loads(events[-3])["choices"][0]["finish_reason"] == "tool_calls"


# --- line endings ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vllm_chat.sse", "multiline_data.sse", "comments_fields.sse"])
def test_bare_cr_stream_every_split(name: str) -> None:
    lf_stream = load(name)
    cr_stream = lf_stream.replace(b"\n", b"\r")
    expected = decode_strict([lf_stream])
    assert decode_strict([cr_stream]) == expected
    for cut in range(len(cr_stream) + 1):
        assert decode_strict([cr_stream[:cut], cr_stream[cut:]]) == expected


def test_crlf_split_between_cr_and_lf_is_one_line_ending() -> None:
    # Counted twice, the LF would be a blank line and split this into two events.
    assert decode_strict([b"data: a\r", b"\n", b"data: b\r\n\r\n"]) == [b"a\nb"]
    assert decode_strict([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [b"a\nb"]


def test_cr_then_empty_feed_then_lf() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"data: b\n\n") == [b"a\nb"]


def test_cr_cr_is_two_line_endings() -> None:
    assert decode_strict([b"data: a\r", b"\rdata: b\r\r"]) == [b"a", b"b"]


def test_mixed_line_endings_in_one_block() -> None:
    assert decode_strict([b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"]) == [b"a\nb\nc", b"d"]


# --- BOM -----------------------------------------------------------------------------------


def test_bom_is_stripped_at_stream_start() -> None:
    stream = b"\xef\xbb\xbf" + load("vllm_chat.sse")
    expected = decode_strict([load("vllm_chat.sse")])
    assert decode_strict([stream]) == expected
    for cut in range(0, 8):
        assert decode_strict([stream[:cut], stream[cut:]]) == expected
    assert decode_strict([stream[i : i + 1] for i in range(len(stream))]) == expected


def test_bom_only_stripped_once_and_only_at_start() -> None:
    # A second BOM makes the first line's field name "\ufeffdata", which is ignored.
    assert decode_strict([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n"]) == []
    assert decode_strict([b"data: x\n\n", b"\xef\xbb\xbfdata: y\n\n"]) == [b"x"]


def test_bom_prefix_that_is_not_a_bom() -> None:
    assert decode_strict([b"\xef", b"\xbbdata: x\n\n"]) == []  # field "\xef\xbbdata" ignored
    assert decode_strict([b"\xef\xbb", b"\n", b"data: x\n\n"]) == [b"x"]


# --- field parsing -------------------------------------------------------------------------


def test_empty_data_values() -> None:
    assert decode_strict([b"data:\n\n"]) == [b""]
    assert decode_strict([b"data: \n\n"]) == [b""]
    assert decode_strict([b"data\n\n"]) == [b""]
    assert decode_strict([b"data:\ndata:\n\n"]) == [b"\n"]
    assert decode_strict([b"data: a\ndata\ndata: b\n\n"]) == [b"a\n\nb"]


def test_only_one_space_is_stripped_and_no_other_whitespace() -> None:
    assert decode_strict([b"data:   x  \n\n"]) == [b"  x  "]
    assert decode_strict([b"data:\tx\n\n"]) == [b"\tx"]


def test_non_data_fields_and_lookalikes_are_ignored() -> None:
    stream = b"data : x\ndatax: y\nDATA: z\n data: w\nevent: e\nid: 1\nretry: 10\n: c\n\n"
    assert decode_strict([stream]) == []


def test_error_field_becomes_an_error_object() -> None:
    """llama.cpp's server (until late 2025) sent in-stream errors as an `error:` field."""
    stream = b'data: {"a":1}\n\nerror: {"code":500,"message":"m","type":"t"}\n\ndata: [DONE]\n\n'
    events = decode_strict([stream])
    assert events == [b'{"a":1}', b'{"error":{"code":500,"message":"m","type":"t"}}', DONE]
    assert decode_strict([b"error:oops\n\n"]) == [b'{"error":"oops"}']


def test_event_without_data_is_not_returned() -> None:
    assert decode_strict([b"event: ping\nid: 7\n\n: keep-alive\n\nretry: 1\n\n"]) == []


def test_data_with_colons_inside_value() -> None:
    assert decode_strict([b'data: {"a":"b:c"}\n\n']) == [b'{"a":"b:c"}']


def test_extra_blank_lines_between_events() -> None:
    assert decode_strict([b"\n\ndata: a\n\n\n\ndata: b\n\n\n"]) == [b"a", b"b"]


def test_fast_path_with_mixed_events_in_aligned_block() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 0\n\n") == [b"0"]
    assert decoder.feed(b"data: a\n\n: ping\n\ndata: b\ndata: c\n\n") == [b"a", b"b\nc"]
    assert decoder.feed(b"data: d\n\ndata: e\n") == [b"d"]
    assert decoder.feed(b"\ndata: f\n\n") == [b"e", b"f"]
    assert decoder.feed(b"data: g\n\ndata: h\n\n") == [b"g", b"h"]
    assert decoder.feed(b"data: i\rdata: j\n\n") == [b"i\nj"]
    assert decoder.feed(b"data: k\n\n\n") == [b"k"]
    assert decoder.flush() == []


# --- flush -------------------------------------------------------------------------------


def test_flush_returns_pending_event_without_final_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: [DONE]\n") == [b"a"]
    assert decoder.flush() == [DONE]
    assert decoder.flush() == []


def test_flush_returns_unterminated_last_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.flush() == [DONE]
    decoder.feed(b'data: {"trunc')
    assert decoder.flush() == [b'{"trunc']


def test_flush_multi_line_pending_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\ndata: b") == []
    assert decoder.flush() == [b"a\nb"]


def test_flush_ignores_pending_event_without_data() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\nevent: x\nid: 2\n: c") == [b"a"]
    assert decoder.flush() == []
    assert SSEDecoder().flush() == []


def test_flush_resets_for_a_new_stream() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"\xef\xbb\xbfdata: a\ndata: b\r")
    assert decoder.flush() == [b"a\nb"]
    # Pending CR forgotten, BOM allowed again, no leftover data.
    assert decoder.feed(b"\xef\xbb\xbf\ndata: c\n\n") == [b"c"]
    assert decoder.feed(b"data: d\n\n") == [b"d"]
    assert decoder.flush() == []


def test_empty_stream() -> None:
    assert decode([]) == []
    assert decode([b"", b""]) == []


# --- randomized comparison with a reference decoder ----------------------------------------

_LINES = [
    b"data: x",
    b"data:y",
    b"data",
    b"data: ",
    b"data:  two",
    b": comment",
    b":",
    b"event: message",
    b"id: 42",
    b"retry: 100",
    b"foo",
    b'error: {"code":500,"message":"boom","type":"server_error"}',
    b"error:not json",
    b"",
    b"",
    b'data: {"k": "v\xc3\xa9 \xf0\x9f\x9a\x80"}',
]
_ENDINGS = [b"\n", b"\n", b"\r\n", b"\r"]


def random_stream(rng: random.Random) -> bytes:
    parts = [b"\xef\xbb\xbf"] if rng.random() < 0.2 else []
    for _ in range(rng.randint(0, 30)):
        parts += [rng.choice(_LINES), rng.choice(_ENDINGS)]
    if rng.random() < 0.3:
        parts.append(rng.choice(_LINES))  # unterminated last line
    return b"".join(parts)


def test_random_streams_match_reference_decoder() -> None:
    rng = random.Random(20240611)
    for _ in range(1500):
        stream = random_stream(rng)
        expected = reference_decode(stream)
        assert decode([stream]) == expected, stream
        cuts = sorted(rng.sample(range(len(stream) + 1), min(len(stream) + 1, rng.randint(0, 8))))
        blocks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert decode(blocks) == expected, (stream, cuts)
