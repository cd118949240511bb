"""Kernel receive stamps on plain sockets (`SO_TIMESTAMPNS`), for the client and the mock.

Linux stamps each TCP segment when it arrives; with `SO_TIMESTAMPNS` set on a socket,
`recvmsg` also returns the stamp of the last segment it read. `recv` turns it into
`perf_counter` seconds (CLOCK_MONOTONIC: the same clock in every process of a machine), so
the client's chunk times and the mock's request arrivals compare directly. 64-bit Linux;
`LLM_LOAD_KERNEL_STAMPS=0` turns them off everywhere: `enabled()` reads it when a stream
reactor or a mock server is created, never at import.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from time import perf_counter, time
from typing import Any

__all__ = ["STAMP_BYTES", "SUPPORTED", "enabled", "perf_s", "recv", "turn_on"]

_TIMESPEC = struct.Struct("qq")  # a 64-bit struct timespec (CLOCK_REALTIME)
# 35 on x86-64 and arm64 Linux; Python < 3.13 lacks the name.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
SUPPORTED = SO_TIMESTAMPNS is not None and struct.calcsize("l") == 8
STAMP_BYTES = socket.CMSG_SPACE(_TIMESPEC.size)


def enabled() -> bool:
    """Whether to use kernel stamps: supported here and not turned off with
    `LLM_LOAD_KERNEL_STAMPS=0` (read now: call it when a reactor or server is created)."""
    return SUPPORTED and os.environ.get("LLM_LOAD_KERNEL_STAMPS", "1") != "0"


def turn_on(real_sock: Any) -> bool:
    """Ask the kernel to stamp what `real_sock` (a plain socket: not gevent's, not TLS)
    receives from now on; True when it will."""
    if SO_TIMESTAMPNS is None or real_sock is None or not hasattr(real_sock, "recvmsg"):
        return False
    try:
        real_sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def perf_s(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The stamp in `recvmsg`'s ancillary data, in `perf_counter` seconds."""
    sec, ns = _TIMESPEC.unpack(ancillary[0][2])
    return sec + ns * 1e-9 - (time() - perf_counter())


def recv(real_sock: Any, size: int) -> tuple[bytes, float | None]:
    """One `recvmsg` of up to `size` bytes (raises `BlockingIOError` like `recv`): the bytes
    and when the last of them arrived, in `perf_counter` seconds (None: not stamped)."""
    data, ancillary, _, _ = real_sock.recvmsg(size, STAMP_BYTES)
    return data, perf_s(ancillary) if ancillary else None
