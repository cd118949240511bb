"""Kernel receive stamps: when response bytes reached this machine, not when we read them.

Linux stamps every TCP segment as it arrives; with `SO_TIMESTAMPNS` set on a socket,
`recvmsg` also returns the stamp of the last segment it read. A load client busy elsewhere
(hundreds of streams ending together) reads late; with these stamps its TTFT and ITL still
count from the arrival. The reactor stamps body reads with them, and `use_stamped_header_reads`
makes geventhttpclient's header read keep its stamp too: when a user greenlet ran late, the
bytes read with the headers can already hold the first token. Plain TCP on 64-bit Linux;
elsewhere (TLS, other systems) a read is stamped when it happens. `LLM_LOAD_KERNEL_STAMPS=0`
turns them off (A/B runs in `benchmarks/client_overhead.py`).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from time import perf_counter, time
from typing import Any

from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError, HTTPSocketResponse

__all__ = ["ENABLED", "enable", "recv", "use_stamped_header_reads"]

_TIMESPEC = struct.Struct("qq")  # a 64-bit struct timespec (CLOCK_REALTIME)
# 35 on x86-64 and arm64 Linux; Python < 3.13 lacks the name.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
ENABLED = (
    SO_TIMESTAMPNS is not None
    and struct.calcsize("l") == 8
    and os.environ.get("LLM_LOAD_KERNEL_STAMPS", "1") != "0"
)
_STAMP_BYTES = socket.CMSG_SPACE(_TIMESPEC.size)


def enable(real_sock: Any) -> bool:
    """Ask the kernel to stamp what `real_sock` (a plain `_socket.socket`, not a gevent or
    TLS one) receives from now on; True when it will."""
    if not ENABLED or real_sock is None or not hasattr(real_sock, "recvmsg"):
        return False
    try:
        real_sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def recv(real_sock: Any, size: int) -> tuple[bytes, float | None]:
    """One `recvmsg` of up to `size` bytes (raises `BlockingIOError` like `recv`): the bytes
    and when the last of them arrived, in `perf_counter` seconds (None: not stamped)."""
    data, ancillary, _, _ = real_sock.recvmsg(size, _STAMP_BYTES)
    if not ancillary:
        return data, None
    sec, ns = _TIMESPEC.unpack(ancillary[0][2])
    return data, sec + ns * 1e-9 - (time() - perf_counter())


def _recv_waiting(sock: Any, real: Any, size: int, first: bool) -> tuple[bytes, float | None]:
    """`recv` on a gevent socket's real socket, waiting (with its timeout) like gevent's; a
    reset before the first byte is geventhttpclient's `HTTPConnectionClosed` (a stale
    keep-alive connection, which the caller may retry)."""
    while True:
        try:
            return recv(real, size)
        except BlockingIOError:
            if sock.timeout == 0.0:
                raise
            sock._wait(sock._read_event)
        except ConnectionResetError as error:
            if first:
                raise HTTPConnectionClosed("connection closed.") from error
            raise


def _read_headers_stamped(response: Any, sock: Any, real: Any) -> None:
    """geventhttpclient 2.x's header loop (`HTTPSocketResponse._read_headers`), each read
    keeping its stamp in `response.arrived_s`."""
    first = True
    while not response.headers_complete or response.get_code() < 200:  # 1xx: read on
        data, response.arrived_s = _recv_waiting(sock, real, response.block_size, first)
        response.feed(data)
        if not data:
            if first:
                raise HTTPConnectionClosed("connection closed.")
            if response.headers_complete:
                raise HTTPParseError("connection closed after interim response")
            raise HTTPParseError("connection closed before end of the headers")
        first = False


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
        try:
            _read_headers_stamped(self, sock, real)
            if self.message_complete:
                self.release()
        except BaseException:
            self.release()
            raise

    _read_headers._llm_load = True  # type: ignore[attr-defined]
    HTTPSocketResponse._read_headers = _read_headers  # type: ignore[method-assign]
