"""Reading a FastHttpUser response body in blocks: the one place that knows geventhttpclient.

geventhttpclient's `read(n)` waits for n bytes, and `readline()` costs a call per SSE
line; a streaming load client wants "everything that has arrived, one `recv` per wake".
`read_sse` does that on the response's own socket and parser, then hands each block to the
SSE decoder, stamping one arrival time per block. `abandon` closes a connection whose
response was not read to the end, so it never returns to the keep-alive pool.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from gevent.monkey import get_original

from llm_load.core.sse import SSEDecoder

__all__ = [
    "RECV_BYTES",
    "StreamClosed",
    "abandon",
    "read_body",
    "read_sse",
    "use_nonyielding_pool_check",
    "warm_connection",
]

RECV_BYTES = 65536
MAX_ERROR_BODY = 64 * 1024


class StreamClosed(Exception):
    """The server closed the connection before the response was complete."""


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
            if not data:
                raise StreamClosed("server closed the connection before the end of the response")
            raw.feed(data)
    except BaseException:
        abandon(raw)
        raise


def read_sse(
    response: Any, add: Callable[[bytes, float], None], t0: float, reactor: Any = None
) -> None:
    """Stream an SSE body into `add(payload, seconds_since_t0)` until it ends.

    With a `StreamReactor`, the reactor greenlet reads the socket (batched wake-ups);
    without, this greenlet does, one `recv` per wake."""
    decoder = SSEDecoder()
    feed = decoder.feed

    def on_block(block: bytes, now: float) -> None:
        t = now - t0
        for payload in feed(block):
            add(payload, t)

    raw = response._response
    if reactor is None:
        _pump(raw, lambda block: on_block(block, perf_counter()))
    else:
        try:
            reactor.read(raw, on_block)
        except BaseException:
            abandon(raw)
            raise
    for payload in decoder.flush():
        add(payload, perf_counter() - t0)


def read_body(response: Any, limit: int | None = None) -> bytes:
    """The whole body (or its first `limit` bytes, closing the connection after)."""
    parts: list[bytes] = []
    raw = response._response
    if raw is None:
        return b""
    _pump(raw, parts.append, limit)
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


def use_nonyielding_pool_check() -> None:
    """Make geventhttpclient's "is this pooled socket still alive?" check not yield.

    It calls gevent's `select(..., 0)`, which yields to the hub before every request: the
    request then waits behind every ready greenlet while its clock (TTFT, E2E) runs. A
    zero-timeout poll of one descriptor never needs to wait. Idempotent.
    """
    from geventhttpclient.connectionpool import ConnectionPool

    if getattr(ConnectionPool._is_socket_alive, "_llm_load", False):
        return
    poll, pollin = get_original("select", ["poll", "POLLIN"])

    def _is_socket_alive(self: Any, sock: Any) -> bool:
        if sock is None:
            return False
        try:
            fd = sock.fileno()
            if fd < 0:
                return False
            poller = poll()
            poller.register(fd, pollin)
            return not poller.poll(0)  # readable while idle: closed by the peer, or dirty
        except (OSError, ValueError):
            return False

    _is_socket_alive._llm_load = True  # type: ignore[attr-defined]
    ConnectionPool._is_socket_alive = _is_socket_alive  # type: ignore[method-assign]


def warm_connection(session: Any, url: str) -> None:
    """Open one keep-alive connection to `url`'s server ahead of the first request, so
    that request's clock does not include connecting (and the hub cycle a connect yields
    to). Errors are left for the first request to report."""
    try:
        pool = session.client.clientpool.get_client(url)._connection_pool
        pool.return_socket(pool.get_socket())
    except Exception:
        return
