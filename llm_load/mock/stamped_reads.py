"""A mock connection's requests stamped with the kernel's arrival time, not the parse time.

A busy mock (hundreds of streams' token timers in one event loop) gets round to reading a
request milliseconds after it arrived; a truth that starts at the parse cannot see that wait,
though every client does. So on Linux the mock reads each connection itself: its transport's
reading is paused and a duplicate of the socket, with `SO_TIMESTAMPNS` on, is read with
`recvmsg` from the event loop (`loop.add_reader`). Writing and closing stay the transport's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any

from llm_load import kernel_stamps

__all__ = ["StampedReader"]

READ_BYTES = 256 * 1024


class StampedReader:
    """Reads `transport`'s socket in its place: `on_data(bytes, arrived perf_s | None)`;
    `on_closed(error)` at the end of the input (None) or on a read error."""

    def __init__(
        self,
        sock: socket.socket,
        on_data: Callable[[bytes, float | None], None],
        on_closed: Callable[[OSError | None], None],
    ) -> None:
        self.sock: socket.socket | None = sock
        self.on_data, self.on_closed = on_data, on_closed
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(sock.fileno(), self._readable)

    @classmethod
    def attach(
        cls,
        transport: Any,
        on_data: Callable[[bytes, float | None], None],
        on_closed: Callable[[OSError | None], None],
    ) -> StampedReader | None:
        """Take over `transport`'s reading, or None where stamps are not available."""
        inner = transport.get_extra_info("socket")
        if inner is None:
            return None
        try:
            sock = socket.socket(fileno=os.dup(inner.fileno()))
        except OSError:
            return None
        if not kernel_stamps.turn_on(sock):
            sock.close()
            return None
        sock.setblocking(False)
        transport.pause_reading()
        # uvloop starts a transport's reading only after `connection_made`: pause it again
        # then; bytes it reads before that come, unstamped, through the protocol's
        # `data_received`, which pauses it too.
        asyncio.get_running_loop().call_soon(_keep_paused, transport)
        return cls(sock, on_data, on_closed)

    def _readable(self) -> None:
        if self.sock is None:
            return
        try:
            data, arrived = kernel_stamps.recv(self.sock, READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # reset by the peer
            self.close()
            self.on_closed(error)
            return
        if not data:
            self.close()
            self.on_closed(None)
            return
        self.on_data(data, arrived)

    def close(self) -> None:
        """Stop reading and drop the duplicate (the transport closes the connection)."""
        sock, self.sock = self.sock, None
        if sock is not None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                self.loop.remove_reader(sock.fileno())
            sock.close()


def _keep_paused(transport: Any) -> None:
    if not transport.is_closing():
        transport.pause_reading()
