"""Byte-level framing of the mock's replies in the other APIs: Responses, Messages, completions.

Each `*Framing` builds, for one reply, the SSE events its stream writes: a head (written with
the headers), one event group per token (a text delta, or a tool call's opening or an
arguments fragment, whose last one also closes the call) and a tail (the end events with the
finish reason and usage), plus the non-streamed JSON body and the API's error body. `frames`
packs them into a `StreamFrames` that the chat replies (timing, faults) write unchanged.
Tool calls are always split vLLM-style here (opening without arguments, then fragments), as
real servers stream them in these APIs.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_load.mock import payload
from llm_load.mock.payload import VOCAB, StreamFrames, chunk
from llm_load.mock.tool_answers import split_arguments

__all__ = ["FRAMINGS", "CompletionsFraming", "Framing", "MessagesFraming", "ResponsesFraming"]

_JSON_TOKENS = tuple(orjson.dumps(tok) for tok in VOCAB)
_END = b"0\r\n\r\n"
Call = dict[str, Any]  # an OpenAI-shaped tool call


def sse(kind: str, doc: dict[str, Any]) -> bytes:
    """One typed SSE event (`event:` line and `data:` JSON carrying the same `type`)."""
    return b"event: %s\ndata: %s\n\n" % (kind.encode(), orjson.dumps({"type": kind, **doc}))


class Framing:
    """One API's framing; `name` is its `/stats` label, `path` its route under `/v1`."""

    name = ""
    path = ""

    def text_events(self, rid: int, model: str, created: int) -> tuple[bytes, ...]:
        raise NotImplementedError

    def call_events(self, rid: int, calls: list[Call]) -> tuple[bytes, ...]:
        raise NotImplementedError

    def head(self, rid: int, model: str, created: int, prompt: int | None, text: bool) -> bytes:
        raise NotImplementedError

    def tail(self, rid: int, model: str, created: int, reply: Reply) -> bytes:
        raise NotImplementedError

    def body(self, rid: int, model: str, created: int, reply: Reply) -> bytes:
        raise NotImplementedError

    def error_body(self, status: int, message: str, kind: str) -> bytes:
        return payload.error_body(status, message, kind)

    def error_event(self) -> bytes:
        """The in-stream error that ends a stream (``--stream-error-rate``)."""
        return b"data: " + payload.STREAM_ERROR_CHUNK + b"\n\ndata: [DONE]\n\n"


class Reply:
    """What a reply says: `n` tokens, the finish `reason`, `usage` (or None) and tool `calls`."""

    __slots__ = ("calls", "n", "prompt", "reason", "usage")

    def __init__(
        self, n: int, reason: str, usage: dict[str, Any] | None, calls: list[Call] | None
    ) -> None:
        self.n, self.reason, self.usage, self.calls = n, reason, usage, calls
        self.prompt = usage["prompt_tokens"] if usage else None

    @property
    def text(self) -> str:
        return payload.content(self.n)


def frames(framing: Framing, rid: int, model: str, created: int, reply: Reply,
           events: tuple[bytes, ...]) -> StreamFrames:  # fmt: skip
    """The `StreamFrames` of a streamed reply: head, `events` (one HTTP chunk each), tail."""
    out = StreamFrames.__new__(StreamFrames)
    head = framing.head(rid, model, created, reply.prompt, reply.calls is None)
    out._role, out._extra, out.n = (chunk(head) if head else b""), b"", reply.n
    out.tokens = tuple(chunk(e) for e in events[: min(reply.n, len(events))])
    out.tail = chunk(framing.tail(rid, model, created, reply)) + _END
    out.error = chunk(framing.error_event()) + _END
    return out


def _pieces(calls: list[Call]) -> list[tuple[int, Call, list[str]]]:
    out, cuts = [], 0
    for i, call in enumerate(calls):
        fragments = split_arguments(call["function"]["arguments"], cuts)
        cuts += len(fragments)
        out.append((i, call, fragments))
    return out


class ResponsesFraming(Framing):
    """OpenAI Responses: `response.*` events, `response.completed` / `.incomplete` with usage."""

    name, path = "responses", "/responses"

    def text_events(self, rid: int, model: str, created: int) -> tuple[bytes, ...]:
        pre = (b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
               b'"item_id":"msg_%d","output_index":0,"content_index":0,"delta":' % rid)  # fmt: skip
        return tuple(pre + tok + b"}\n\n" for tok in _JSON_TOKENS)

    def call_events(self, rid: int, calls: list[Call]) -> tuple[bytes, ...]:
        out: list[bytes] = []
        for i, call, fragments in _pieces(calls):
            item = self._call_item(rid, i, call, "", "in_progress")
            out.append(sse("response.output_item.added", {"output_index": i, "item": item}))
            ids = {"item_id": item["id"], "output_index": i}
            out += [sse("response.function_call_arguments.delta", {**ids, "delta": f})
                    for f in fragments]  # fmt: skip
            args = call["function"]["arguments"]
            done = self._call_item(rid, i, call, args, "completed")
            out[-1] += sse("response.function_call_arguments.done", {**ids, "arguments": args})
            out[-1] += sse("response.output_item.done", {"output_index": i, "item": done})
        return tuple(out)

    @staticmethod
    def _call_item(rid: int, i: int, call: Call, args: str, status: str) -> dict[str, Any]:
        return {"type": "function_call", "id": f"fc_{rid}_{i}", "call_id": call["id"],
                "name": call["function"]["name"], "arguments": args, "status": status}  # fmt: skip

    def head(self, rid: int, model: str, created: int, prompt: int | None, text: bool) -> bytes:
        response = {"id": f"resp_{rid}", "object": "response", "created_at": created,
                    "model": model, "status": "in_progress", "output": []}  # fmt: skip
        out = sse("response.created", {"response": response})
        out += sse("response.in_progress", {"response": response})
        if text:
            item = {"type": "message", "id": f"msg_{rid}", "role": "assistant",
                    "status": "in_progress", "content": []}  # fmt: skip
            part = {"type": "output_text", "text": "", "annotations": []}
            out += sse("response.output_item.added", {"output_index": 0, "item": item})
            out += sse("response.content_part.added",
                       {"item_id": item["id"], "output_index": 0, "content_index": 0,
                        "part": part})  # fmt: skip
        return out

    def _response(self, rid: int, model: str, created: int, reply: Reply) -> dict[str, Any]:
        incomplete = reply.reason == "length"
        use = reply.usage
        return {
            "id": f"resp_{rid}", "object": "response", "created_at": created, "model": model,
            "status": "incomplete" if incomplete else "completed",
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "output": self._output(rid, reply),
            "usage": None if use is None else {
                "input_tokens": use["prompt_tokens"], "output_tokens": use["completion_tokens"],
                "total_tokens": use["total_tokens"]},
        }  # fmt: skip

    def _output(self, rid: int, reply: Reply) -> list[dict[str, Any]]:
        if reply.calls is not None:
            args = [c["function"]["arguments"] for c in reply.calls]
            return [self._call_item(rid, i, c, a, "completed")
                    for i, (c, a) in enumerate(zip(reply.calls, args, strict=True))]  # fmt: skip
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        return [{"type": "message", "id": f"msg_{rid}", "role": "assistant",
                 "status": "completed", "content": [part]}]  # fmt: skip

    def tail(self, rid: int, model: str, created: int, reply: Reply) -> bytes:
        out = b""
        if reply.calls is None:
            ids = {"item_id": f"msg_{rid}", "output_index": 0, "content_index": 0}
            (item,) = self._output(rid, reply)
            out += sse("response.output_text.done", {**ids, "text": reply.text})
            out += sse("response.content_part.done", {**ids, "part": item["content"][0]})
            out += sse("response.output_item.done", {"output_index": 0, "item": item})
        response = self._response(rid, model, created, reply)
        kind = "response.incomplete" if reply.reason == "length" else "response.completed"
        return out + sse(kind, {"response": response})

    def body(self, rid: int, model: str, created: int, reply: Reply) -> bytes:
        return orjson.dumps(self._response(rid, model, created, reply))

    def error_event(self) -> bytes:
        message = payload.STREAM_ERROR_MESSAGE
        return sse("error", {"code": "server_error", "message": message, "param": None})


def _input(arguments: str) -> Any:
    """A `tool_use` block's `input` object; an (injected) invalid one stays text."""
    try:
        return orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return arguments


_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
           404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
           503: "overloaded_error", 529: "overloaded_error"}  # fmt: skip


class MessagesFraming(Framing):
    """Anthropic Messages: `message_start`, content blocks, `message_delta`, `message_stop`."""

    name, path = "messages", "/messages"

    def text_events(self, rid: int, model: str, created: int) -> tuple[bytes, ...]:
        pre = (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
               b'"delta":{"type":"text_delta","text":')  # fmt: skip
        return tuple(pre + tok + b"}}\n\n" for tok in _JSON_TOKENS)

    def call_events(self, rid: int, calls: list[Call]) -> tuple[bytes, ...]:
        out: list[bytes] = []
        for i, call, fragments in _pieces(calls):
            block = {"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                     "input": {}}  # fmt: skip
            out.append(sse("content_block_start", {"index": i, "content_block": block}))
            out += [sse("content_block_delta", {"index": i, "delta": {
                "type": "input_json_delta", "partial_json": f}}) for f in fragments]  # fmt: skip
            out[-1] += sse("content_block_stop", {"index": i})
        return tuple(out)

    def head(self, rid: int, model: str, created: int, prompt: int | None, text: bool) -> bytes:
        message: dict[str, Any] = {
            "id": f"msg_{rid}", "type": "message", "role": "assistant", "content": [],
            "model": model, "stop_reason": None, "stop_sequence": None}  # fmt: skip
        if prompt is not None:
            message["usage"] = {"input_tokens": prompt, "output_tokens": 1}
        out = sse("message_start", {"message": message})
        if text:
            block = {"type": "text", "text": ""}
            out += sse("content_block_start", {"index": 0, "content_block": block})
            out += sse("ping", {})
        return out

    def tail(self, rid: int, model: str, created: int, reply: Reply) -> bytes:
        out = sse("content_block_stop", {"index": 0}) if reply.calls is None else b""
        delta: dict[str, Any] = {"delta": {"stop_reason": _STOP.get(reply.reason, reply.reason),
                                           "stop_sequence": None}}  # fmt: skip
        if reply.usage is not None:
            delta["usage"] = {"output_tokens": reply.usage["completion_tokens"]}
        return out + sse("message_delta", delta) + sse("message_stop", {})

    def body(self, rid: int, model: str, created: int, reply: Reply) -> bytes:
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}]
        if reply.calls is not None:
            content = [{"type": "tool_use", "id": c["id"], "name": c["function"]["name"],
                        "input": _input(c["function"]["arguments"])}
                       for c in reply.calls]  # fmt: skip
        doc: dict[str, Any] = {
            "id": f"msg_{rid}", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": _STOP.get(reply.reason, reply.reason),
            "stop_sequence": None}  # fmt: skip
        if reply.usage is not None:
            doc["usage"] = {"input_tokens": reply.usage["prompt_tokens"],
                            "output_tokens": reply.usage["completion_tokens"]}  # fmt: skip
        return orjson.dumps(doc)

    def error_event(self) -> bytes:
        error = {"type": "overloaded_error", "message": "Overloaded (injected by llm-load mock)"}
        return sse("error", {"error": error})

    def error_body(self, status: int, message: str, kind: str) -> bytes:
        kind = _ERRORS.get(status, "api_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


class CompletionsFraming(Framing):
    """Legacy completions: `text_completion` chunks with `choices[0].text`, then `[DONE]`."""

    name, path = "completions", "/completions"

    def _ident(self, rid: int, model: str, created: int) -> bytes:
        return b'data: {"id":"cmpl-%d","object":"text_completion","created":%d,"model":%s' % (
            rid,
            created,
            orjson.dumps(model),
        )

    def text_events(self, rid: int, model: str, created: int) -> tuple[bytes, ...]:
        pre = self._ident(rid, model, created) + b',"choices":[{"index":0,"text":'
        return tuple(pre + tok + b',"logprobs":null,"finish_reason":null}]}\n\n'
                     for tok in _JSON_TOKENS)  # fmt: skip

    def call_events(self, rid: int, calls: list[Call]) -> tuple[bytes, ...]:
        return ()  # completions take no tools

    def head(self, rid: int, model: str, created: int, prompt: int | None, text: bool) -> bytes:
        return b""

    def tail(self, rid: int, model: str, created: int, reply: Reply) -> bytes:
        ident = self._ident(rid, model, created)
        out = ident + b',"choices":[{"index":0,"text":"","logprobs":null,"finish_reason":%s}]}\n\n'
        out %= orjson.dumps(reply.reason)
        if reply.usage is not None:
            out += ident + b',"choices":[],"usage":%s}\n\n' % orjson.dumps(reply.usage)
        return out + b"data: [DONE]\n\n"

    def body(self, rid: int, model: str, created: int, reply: Reply) -> bytes:
        choice = {"index": 0, "text": reply.text, "logprobs": None, "finish_reason": reply.reason}
        doc: dict[str, Any] = {"id": f"cmpl-{rid}", "object": "text_completion",
                               "created": created, "model": model, "choices": [choice]}  # fmt: skip
        if reply.usage is not None:
            doc["usage"] = reply.usage
        return orjson.dumps(doc)


FRAMINGS: dict[str, Framing] = {
    f.name: f for f in (ResponsesFraming(), MessagesFraming(), CompletionsFraming())
}
