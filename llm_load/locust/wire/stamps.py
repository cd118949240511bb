"""Kernel receive stamps on a client socket, split per SSE event.

Linux stamps every TCP segment as it arrives (`llm_load.kernel_stamps`). A read of several
segments gets the stamp of the last one, and segments left unread are merged in the kernel,
the older taking the newer one's stamp: a user greenlet that reads its headers late
(hundreds of requests ending and starting together) would find its first token merged with
the next ones. So the reactor *watches* a socket from the moment its request is sent: each
time data arrives it peeks, without reading, and notes in the socket's `Marks` how many
bytes had arrived by when. The header read stops at the end of the headers (`recv_event`)
and the reactor's body reads split their bytes at those marks, so each event keeps its own
arrival. Plain sockets only: no gevent, no geventhttpclient here.
"""

from __future__ import annotations

import socket
from typing import Any

from llm_load import kernel_stamps
from llm_load.kernel_stamps import recv

__all__ = ["PEEK_BYTES", "Marks", "event_end", "recv", "recv_event"]

_STAMP_BYTES = kernel_stamps.STAMP_BYTES
PEEK_BYTES = 4096  # enough for a header block or a chat event; a longer one is read in parts
_ENDS = ((b"\n\n", 2), (b"\r\n\r\n", 4))  # an SSE event or a header block ends here


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
                parts.append((mark - pos, _earlier(at, arrived)))
                pos = mark
        if pos < end:  # had arrived by the next mark too, if any (a peek saw them)
            due = self.times[0] if self.ends else None
            parts.append((end - pos, arrived if due is None else _earlier(due, arrived)))
        self.consumed = end
        return parts


def _earlier(at: float, arrived: float | None) -> float:
    return at if arrived is None else min(at, arrived)


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
