"""Byte-level encoding of the mock's HTTP responses: token vocabulary, SSE frames, JSON bodies.

Request-independent pieces are built at import time and the HTTP chunks of a stream once when it
starts, so serving one streamed token is a single ``transport.write`` of ready-made bytes.
"""

from __future__ import annotations

from functools import lru_cache
from http import HTTPStatus
from typing import Any

import orjson

# Deterministic output vocabulary; token i of every reply is VOCAB[i % len(VOCAB)].
# It regularly contains text that needs JSON escaping: quotes, backslashes, newlines,
# non-ASCII letters and astral-plane emoji (written as raw UTF-8, like vLLM does).
VOCAB: tuple[str, ...] = (
    " The", " quick", " brown", " fox", " said", ":", ' "', "hi", '"', ".", "\n",
    " Path", ":", " C", ":\\", "tmp", "\\", "x", ".", " Caf", "é", " is", " open",
    " 🚀", "!", "\n", " Token", "s", " stream", " one", " by", " one",
)  # fmt: skip

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_TAIL = b',"logprobs":null,"finish_reason":null}]}\n\n'
_ROLE = b'{"role":"assistant","content":""}' + _TAIL
_TOKENS = tuple(b'{"content":' + orjson.dumps(tok) + b"}" + _TAIL for tok in VOCAB)
TOKEN_DELTAS = _TOKENS  # the text deltas (with their choice tails) of a normal reply
_FINISH = {
    reason: b'{},"logprobs":null,"finish_reason":"' + reason.encode() + b'"}]}\n\n'
    for reason in ("stop", "length", "tool_calls")
}
_DONE = b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n"
)
_CLOSE = b"Connection: close\r\n"
STREAM_ERROR_MESSAGE = "Internal server error while streaming (injected by llm-load mock)"
# vLLM's in-stream error chunk (then [DONE]).
STREAM_ERROR_CHUNK = orjson.dumps(
    {"error": {"object": "error", "message": STREAM_ERROR_MESSAGE,
               "type": "InternalServerError", "code": 500}}
)  # fmt: skip
_IDENT = b'data: {"id":"chatcmpl-%d","object":"chat.completion.chunk","created":%d,"model":%s'


class HttpError(Exception):
    """An error response: status, OpenAI-style message and type; ``close`` ends the connection;
    ``body`` replaces the OpenAI-style JSON body (to imitate another server's error shape)."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "BadRequestError",
        close: bool = False,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.close = status, message, kind, close
        self.body = body


def chunk(payload: bytes) -> bytes:
    """Frame ``payload`` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """OpenAI ``usage`` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def tool_delta(call: dict[str, Any]) -> bytes:
    """The streamed delta (with its choice tail) carrying a whole tool call at index 0."""
    return b'{"tool_calls":[' + orjson.dumps({"index": 0, **call}) + b"]}" + _TAIL


def backend_object(name: str) -> dict[str, str]:
    """The ``backend`` object of ``--backend NAME`` (a hosted LLMaaS's machine and engine)."""
    return {"machine_name": name, "engine_type": "llm-load-mock"}


def backend_header(backend: dict[str, str] | None) -> bytes:
    """The ``X-Backend`` response header line for ``backend`` (empty without one)."""
    return b"X-Backend: %s\r\n" % backend["machine_name"].encode() if backend else b""


class StreamFrames:
    """All bytes of one streamed reply: :meth:`headers` (headers + role chunk), the per-token HTTP
    chunks (token ``i`` is ``tokens[i % len(tokens)]``) and ``tail`` (finish chunk, optional
    usage chunk, ``[DONE]`` and the chunked terminator). ``deltas`` replaces the text tokens
    (e.g. one :func:`tool_delta`); ``backend`` goes into every chunk and the headers."""

    __slots__ = ("_extra", "_role", "error", "n", "tail", "tokens")

    def __init__(
        self,
        rid: int,
        created: int,
        model: str,
        n: int,
        reason: str,
        use: dict[str, int] | None,
        deltas: tuple[bytes, ...] = _TOKENS,
        backend: dict[str, str] | None = None,
    ) -> None:
        ident = _IDENT % (rid, created, orjson.dumps(model))
        if backend is not None:
            ident += b',"backend":' + orjson.dumps(backend)
        self._extra = backend_header(backend)
        pre = ident + b',"choices":[{"index":0,"delta":'
        self.n = n
        self.tokens = tuple(chunk(pre + tok) for tok in deltas[: min(n, len(deltas))])
        tail = chunk(pre + _FINISH[reason])
        if use is not None:
            tail += chunk(ident + b',"choices":[],"usage":' + orjson.dumps(use) + b"}\n\n")
        self.tail = tail + _DONE
        self._role = chunk(pre + _ROLE)
        self.error = chunk(b"data: " + STREAM_ERROR_CHUNK + b"\n\n") + _DONE  # --stream-error-rate

    def headers(self, close: bool) -> bytes:
        """Response headers followed by the role chunk, as one buffer."""
        return _SSE_HEAD + self._extra + (_CLOSE if close else b"") + b"\r\n" + self._role


@lru_cache(maxsize=256)
def content(n: int) -> str:
    """The text of an ``n``-token reply."""
    size = len(VOCAB)
    return "".join(VOCAB[i % size] for i in range(n))


def completion_body(
    rid: int,
    created: int,
    model: str,
    n: int,
    reason: str,
    use: dict[str, int] | None,
    message: dict[str, Any] | None = None,
    backend: dict[str, str] | None = None,
) -> bytes:
    """Non-streaming ``chat.completion`` JSON body (``usage`` omitted when ``use`` is None;
    ``message`` replaces the text reply, e.g. with tool calls)."""
    doc: dict[str, Any] = {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message or {"role": "assistant", "content": content(n)},
                "logprobs": None,
                "finish_reason": reason,
            }
        ],
    }
    if use is not None:
        doc["usage"] = use
    if backend is not None:
        doc["backend"] = backend
    return orjson.dumps(doc)


def error_body(status: int, message: str, kind: str) -> bytes:
    """OpenAI-style error JSON."""
    return orjson.dumps({"error": {"message": message, "type": kind, "code": status}})


def response(
    status: int, body: bytes, *, close: bool, ctype: bytes = b"application/json", extra: bytes = b""
) -> bytes:
    """A complete ``Content-Length`` response (``extra``: raw header lines, CRLF-terminated)."""
    reason = reason_phrase(status).encode()
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s%s\r\n%s" % (
        status,
        reason,
        ctype,
        len(body),
        extra,
        _CLOSE if close else b"",
        body,
    )


def reason_phrase(status: int) -> str:
    """The HTTP reason phrase of ``status`` (``Unknown`` for an unregistered one)."""
    if status in REASONS:
        return REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def json_response(status: int, doc: Any, *, close: bool, extra: bytes = b"") -> bytes:
    """Serialise ``doc`` and frame it with :func:`response`."""
    return response(status, orjson.dumps(doc), close=close, extra=extra)
