"""Kernel receive stamps: when response bytes reached this machine, not when we read them.

Linux stamps every TCP segment as it arrives; with `SO_TIMESTAMPNS` set on a socket,
`recvmsg` also returns the stamp of the last segment it read. A load client busy elsewhere
(hundreds of streams ending together) reads late; with these stamps its TTFT and ITL still
count from the arrival. The reactor stamps body reads with them, and `use_stamped_header_reads`
makes geventhttpclient's header read keep its stamp too.

A read of several segments gets the stamp of the last one, and segments left unread are
merged in the kernel, the older taking the newer one's stamp: a user greenlet that reads its
headers late (hundreds of requests ending and starting together) would find its first token
merged with the next ones. So the reactor *watches* a socket from the moment its request is
sent (`set_watcher`): each time data arrives it peeks, without reading, and notes in the
socket's `Marks` how many bytes had arrived by when. The header read stops at the end of the
headers (`recv_event`) and the reactor's body reads split their bytes at those marks, so each
event keeps its own arrival. Plain TCP on 64-bit Linux; elsewhere (TLS, other systems) a read
is stamped when it happens. `LLM_LOAD_KERNEL_STAMPS=0` turns all this off (A/B runs in
`benchmarks/client_overhead.py`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError, HTTPSocketResponse

from llm_load import kernel_stamps
from llm_load.kernel_stamps import recv

__all__ = [
    "ENABLED",
    "PEEK_BYTES",
    "Marks",
    "enable",
    "event_end",
    "recv",
    "recv_event",
    "set_watcher",
    "use_stamped_header_reads",
]

ENABLED = kernel_stamps.ENABLED
_STAMP_BYTES = kernel_stamps.STAMP_BYTES
PEEK_BYTES = 4096  # enough for a header block or a chat event; a longer one is read in parts
_ENDS = ((b"\n\n", 2), (b"\r\n\r\n", 4))  # an SSE event or a header block ends here
_watch: Any = None  # the reactor's `watch` and `forget`, see `set_watcher`
_forget: Any = None


def enable(real_sock: Any) -> bool:
    """Ask the kernel to stamp what `real_sock` (a plain `_socket.socket`, not a gevent or
    TLS one) receives from now on; True when it will."""
    return ENABLED and kernel_stamps.turn_on(real_sock)


class Marks:
    """When a socket's input arrived, noted by peeks before it was read: byte offset `ends[i]`
    (counted from the first byte read while watched) had arrived by `times[i]`."""

    __slots__ = ("consumed", "ends", "times")

    def __init__(self) -> None:
        self.consumed = 0
        self.ends: list[int] = []
        self.times: list[float] = []

    def peek(self, real_sock: Any) -> bool:
        """Note what has arrived so far (raises `BlockingIOError` when nothing has); False at
        the end of the input."""
        view, ancillary, _, _ = real_sock.recvmsg(PEEK_BYTES, _STAMP_BYTES, socket.MSG_PEEK)
        if not view:
            return False
        end = self.consumed + len(view)
        if ancillary and (not self.ends or end > self.ends[-1]):
            self.ends.append(end)
            self.times.append(kernel_stamps.perf_s(ancillary))
        return True

    def split(self, size: int, arrived: float | None) -> list[tuple[int, float | None]]:
        """The next `size` bytes read, stamped `arrived`, as (length, arrival) parts: bytes
        a peek had seen keep the time of that peek's newest segment."""
        pos, end = self.consumed, self.consumed + size
        parts: list[tuple[int, float | None]] = []
        while self.ends and self.ends[0] <= end:
            mark, at = self.ends.pop(0), self.times.pop(0)
            if mark > pos:
                parts.append((mark - pos, at if arrived is None else min(at, arrived)))
                pos = mark
        if pos < end:  # had arrived by the next mark too, if any (a peek saw them)
            seen = self.times[0] if self.ends else arrived
            parts.append(
                (end - pos, seen if arrived is None or seen is None else min(seen, arrived))
            )
        self.consumed = end
        return parts


def set_watcher(
    watch: Callable[[Any], Marks | None] | None, forget: Callable[[Any], None] | None = None
) -> None:
    """`watch(response)` is called as each response's header read starts (its request just
    sent) and returns the `Marks` it will keep for that socket, or None; `forget(response)`
    when the response will not be streamed (not a 2xx `text/event-stream`) or failed."""
    global _watch, _forget
    _watch, _forget = watch, forget


def event_end(view: bytes) -> int:
    """Bytes of `view` up to the end of its first header block or SSE event (all if none)."""
    end = len(view)
    for separator, size in _ENDS:
        if (at := view.find(separator)) >= 0:
            end = min(end, at + size)
    return end


def recv_event(real_sock: Any, size: int = PEEK_BYTES) -> tuple[bytes, float | None]:
    """`recv` of the bytes up to the end of the first header block or SSE event queued on
    `real_sock` (a peek finds it): their stamp is that event's arrival, not a later one's."""
    view = real_sock.recv(size, socket.MSG_PEEK)
    if not view:
        return b"", None
    return recv(real_sock, event_end(view))


def _recv_waiting(sock: Any, real: Any, size: int, first: bool) -> tuple[bytes, float | None]:
    """`recv_event` on a gevent socket's real socket, waiting (with its timeout) like gevent's; a
    reset before the first byte is geventhttpclient's `HTTPConnectionClosed` (a stale
    keep-alive connection, which the caller may retry)."""
    while True:
        try:
            return recv_event(real, size)
        except BlockingIOError:
            if sock.timeout == 0.0:
                raise
            sock._wait(sock._read_event)
        except ConnectionResetError as error:
            if first:
                raise HTTPConnectionClosed("connection closed.") from error
            raise


def _read_headers_stamped(response: Any, sock: Any, real: Any, marks: Marks | None) -> None:
    """geventhttpclient 2.x's header loop (`HTTPSocketResponse._read_headers`), each read
    keeping its stamp in `response.arrived_s`; it reads no further than the headers' end."""
    first = True
    while not response.headers_complete or response.get_code() < 200:  # 1xx: read on
        data, arrived = _recv_waiting(sock, real, response.block_size, first)
        if marks is not None and data:
            arrived = marks.split(len(data), arrived)[-1][1]
        response.arrived_s = arrived
        response.feed(data)
        if not data:
            if first:
                raise HTTPConnectionClosed("connection closed.")
            if response.headers_complete:
                raise HTTPParseError("connection closed after interim response")
            raise HTTPParseError("connection closed before end of the headers")
        first = False


def _streamed(response: Any) -> bool:
    """A 2xx `text/event-stream`: its body will be read by the reactor."""
    ctype = (response.get("content-type") or "").lower()
    return 200 <= response.get_code() < 300 and "text/event-stream" in ctype


def use_stamped_header_reads() -> None:
    """Make geventhttpclient's header read keep the kernel stamp of its last `recv` in the
    response's `arrived_s` (plain TCP with stamps on; other sockets read as before).
    Idempotent."""
    original = HTTPSocketResponse._read_headers
    if not ENABLED or getattr(original, "_llm_load", False):
        return

    def _read_headers(self: Any, pre_buffered: bytes = b"") -> None:
        sock = self._sock
        real = getattr(sock, "_sock", None)
        if pre_buffered or hasattr(sock, "pending") or not enable(real):
            original(self, pre_buffered)
            return
        marks = _watch(self) if _watch is not None else None
        try:
            _read_headers_stamped(self, sock, real, marks)
            if marks is not None and not _streamed(self):
                _forget(self)
            if self.message_complete:
                self.release()
        except BaseException:
            if marks is not None:
                _forget(self)
            self.release()
            raise

    _read_headers._llm_load = True  # type: ignore[attr-defined]
    HTTPSocketResponse._read_headers = _read_headers  # type: ignore[method-assign]
