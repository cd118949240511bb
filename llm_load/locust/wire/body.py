"""Reading a response body: every block as it arrives, into one sink.

geventhttpclient's `read(n)` waits for n bytes, and `readline()` costs a call per SSE
line; a streaming load client wants "everything that has arrived, one `recv` per wake".
`read_sse` does that on the response's own socket and parser and hands each SSE payload to
the caller's sink (`add(payload, t_s)`, `has_token()`), stamping one arrival time per block
(or leaves the socket to a `StreamReactor`). `abandon` closes a connection whose response
was not read to the end, so it never returns to the keep-alive pool. Bodies sent with a
`Content-Encoding` (gzip, deflate) are decoded; a body delimited by the end of the
connection (no length, not chunked) ends there. `FirstToken` bounds the wait for the first
token (`--ttft-timeout`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

import gevent
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError

from llm_load.core.wire.encoding import body_decoder
from llm_load.core.wire.sse import SSEDecoder

if TYPE_CHECKING:
    from llm_load.locust.wire.reactor import StreamReactor

__all__ = [
    "CONNECTION_CLOSED",
    "MAX_ERROR_BODY",
    "RECV_BYTES",
    "STALE",
    "FirstToken",
    "Sink",
    "StreamClosed",
    "TTFTTimeout",
    "abandon",
    "end_of_body",
    "read_body",
    "read_sse",
    "set_read_timeout",
]

RECV_BYTES = 65536
MAX_ERROR_BODY = 64 * 1024


class StreamClosed(Exception):
    """The server closed the connection before the response was complete."""


class TTFTTimeout(Exception):
    """No token arrived within `--ttft-timeout` seconds of sending the request."""


# Errors of a pooled connection that the server closed while it sat idle in the pool.
STALE = (HTTPConnectionClosed, ConnectionResetError, BrokenPipeError)
# Errors of a connection the server closed, or reset, before the response was complete.
CONNECTION_CLOSED = (StreamClosed, *STALE)


class Sink(Protocol):
    """Where a streamed body goes: each SSE data payload with its arrival (seconds since the
    request's clock started), and whether the first token (or the end) is in yet."""

    def add(self, payload: bytes, t_s: float) -> None: ...

    def has_token(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class FirstToken:
    """The first token is due by `at_s` (`perf_counter` s), `timeout_s` after the send."""

    at_s: float
    timeout_s: float

    def error(self) -> TTFTTimeout:
        return TTFTTimeout(f"no token within {self.timeout_s:g} s of sending the request")


def end_of_body(raw: Any) -> None:
    """The server closed the connection: the end of a body delimited by it, else a fault."""
    with contextlib.suppress(HTTPParseError):  # llhttp: "Incomplete response."
        raw.feed(b"")
    if not raw.message_complete:
        raise StreamClosed("server closed the connection before the end of the response")


def _pump(raw: Any, on_block: Callable[[bytes], None], limit: int | None = None) -> None:
    """Feed `on_block` with body bytes as they arrive until the message is complete."""
    buf = raw._body_buffer
    seen = 0
    try:
        while True:
            if buf:
                block = bytes(buf)
                del buf[:]
                seen += len(block)
                on_block(block)
            if raw.message_complete or (limit is not None and seen >= limit):
                return
            sock = raw._sock
            if sock is None:
                raise StreamClosed("connection released before the end of the response")
            data = sock.recv(RECV_BYTES)
            if data:
                raw.feed(data)
            else:
                end_of_body(raw)
    except BaseException:
        abandon(raw)
        raise


def read_sse(
    response: Any,
    sink: Sink,
    t0: float,
    reactor: StreamReactor | None = None,
    first_token: FirstToken | None = None,
) -> None:
    """Stream an SSE body into `sink.add(payload, seconds_since_t0)` until it ends.

    With a `StreamReactor`, the reactor greenlet reads the socket (batched wake-ups, and
    streams still awaiting their first token, per `sink.has_token()`, read first); without,
    this greenlet does, one `recv` per wake. With `first_token`, raises its `TTFTTimeout`
    when no token has come by its deadline."""
    raw = response._response
    add = sink.add
    try:
        decode = body_decoder(raw.get("content-encoding"))
        decoder = SSEDecoder()
        feed = decoder.feed

        def on_block(block: bytes, now: float) -> None:
            t = now - t0
            for payload in feed(block if decode is None else decode.feed(block)):
                add(payload, t)

        if reactor is not None:
            reactor.read(raw, on_block, sink.has_token, first_token)
        elif first_token is None:
            _pump(raw, lambda block: on_block(block, perf_counter()))
        else:
            _pump_first_token(raw, on_block, first_token, sink.has_token)
    except BaseException:
        abandon(raw)
        raise
    for payload in decoder.flush():
        add(payload, perf_counter() - t0)


def _pump_first_token(
    raw: Any,
    on_block: Callable[[bytes, float], None],
    first_token: FirstToken,
    has_token: Callable[[], bool],
) -> None:
    """`_pump` with a timer that interrupts the wait when the first token is late."""
    timer = gevent.Timeout(max(0.0, first_token.at_s - perf_counter()), first_token.error())

    def on_block_until_token(block: bytes) -> None:
        on_block(block, perf_counter())
        if timer.pending and has_token():
            timer.close()

    timer.start()
    try:
        _pump(raw, on_block_until_token)
    finally:
        timer.close()


def read_body(response: Any, limit: int | None = None) -> bytes:
    """The whole body (or its first `limit` bytes, closing the connection after), decoded
    when it came with a `Content-Encoding` (raises `UnsupportedEncoding` for unknown ones,
    leaving the body unread and the connection closed)."""
    parts: list[bytes] = []
    raw = response._response
    if raw is None:
        return b""
    try:
        decode = body_decoder(raw.get("content-encoding"))
    except ValueError:
        abandon(raw)
        raise
    _pump(raw, parts.append if decode is None else lambda b: parts.append(decode.feed(b)), limit)
    if not raw.message_complete:
        abandon(raw)
    return b"".join(parts)


def abandon(raw: Any) -> None:
    """Close the connection of a response that was not read to its end."""
    sock, pool = getattr(raw, "_sock", None), getattr(raw, "_pool", None)
    raw._sock = None
    raw._pool = None
    if sock is None:
        return
    if pool is not None:
        pool.release_socket(sock)
    else:
        sock.close()


def set_read_timeout(response: Any, timeout_s: float) -> None:
    """Set the socket timeout of a response's connection (while its body is read)."""
    sock = getattr(response._response, "_sock", None) if response._response else None
    if sock is not None:
        sock.settimeout(timeout_s)
