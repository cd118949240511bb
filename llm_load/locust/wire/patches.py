"""The one place llm-load changes geventhttpclient's own code; version-guarded.

geventhttpclient reads a response's headers inside `HTTPSocketPoolResponse.__init__`, which
`HTTPClient.request` constructs by name: no subclass or argument reaches that read. llm-load
needs it to (1) let the connection's `StreamReactor` start watching the socket as the request
is sent (so bytes that arrive before this greenlet runs keep their own kernel stamps) and
(2) stop at the end of the headers, keeping their kernel stamp, so the first token is never
read (and stamped) together with them. `apply()` rebinds `HTTPSocketResponse._read_headers`
to a stamped copy of geventhttpclient 2.x's header loop, used only for responses of a
`WirePool` with a stamping reactor (every other response reads as before). It checks the
installed version first and fails at start, with a clear error, on one it was not written for.
"""

from __future__ import annotations

from typing import Any

import geventhttpclient
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError, HTTPSocketResponse

from llm_load import kernel_stamps
from llm_load.locust.wire.pool import WirePool
from llm_load.locust.wire.stamps import PEEK_BYTES, Marks, recv_event

__all__ = ["WRITTEN_FOR", "apply", "check_version"]

WRITTEN_FOR = ((2, 3), (3, 0))  # [from, to): pyproject's range; the loop below is 2.6's
_ORIGINAL_READ_HEADERS = HTTPSocketResponse._read_headers


def check_version(version: str = geventhttpclient.__version__) -> None:
    """Raise `RuntimeError` unless `version` is one the patch below was written for."""
    try:
        found = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        found = (0, 0)
    low, high = WRITTEN_FOR
    if not low <= found < high:
        raise RuntimeError(
            f"llm-load's stamped header read was written for geventhttpclient "
            f">={low[0]}.{low[1]},<{high[0]}.{high[1]}, but {version} is installed: "
            "install a supported version (pip install 'geventhttpclient>=2.3,<3')"
        )


def apply() -> None:
    """Install the stamped header read (idempotent); raises on an unsupported version."""
    check_version()
    HTTPSocketResponse._read_headers = _read_headers  # type: ignore[method-assign]


def _reactor(response: Any) -> Any:
    """The stamping reactor of `response`'s connection pool, or None."""
    pool = getattr(response, "_pool", None)
    if not isinstance(pool, WirePool):
        return None
    reactor = pool.wire.reactor
    return reactor if reactor is not None and reactor.kernel_stamps else None


def _read_headers(self: Any, pre_buffered: bytes = b"") -> None:
    """`HTTPSocketResponse._read_headers`, watched and stamped on a stamping `WirePool`."""
    reactor = _reactor(self)
    sock = self._sock
    real = getattr(sock, "_sock", None)
    if (
        reactor is None
        or pre_buffered
        or hasattr(sock, "pending")  # TLS
        or not kernel_stamps.turn_on(real)
    ):
        _ORIGINAL_READ_HEADERS(self, pre_buffered)
        return
    marks = reactor.watch(self)
    try:
        arrived = _read_headers_stamped(self, sock, real, marks)
        reactor.headers_read(self, arrived, streamed=_streamed(self))
        if self.message_complete:
            self.release()
    except BaseException:
        reactor.unwatch(self)
        self.release()
        raise


def _read_headers_stamped(response: Any, sock: Any, real: Any, marks: Marks | None) -> float | None:
    """geventhttpclient 2.x's header loop, each read stopping at the headers' end; returns
    the kernel stamp (`perf_counter` s) of the last read, or None."""
    first = True
    arrived = None
    while not response.headers_complete or response.get_code() < 200:  # 1xx: read on
        data, arrived = _recv_waiting(sock, real, response.block_size, first)
        if marks is not None and data:
            arrived = marks.split(len(data), arrived)[-1][1]
        response.feed(data)
        if not data:
            if first:
                raise HTTPConnectionClosed("connection closed.")
            if response.headers_complete:
                raise HTTPParseError("connection closed after interim response")
            raise HTTPParseError("connection closed before end of the headers")
        first = False
    return arrived


def _recv_waiting(
    sock: Any, real: Any, size: int = PEEK_BYTES, first: bool = False
) -> tuple[bytes, float | None]:
    """`recv_event` on a gevent socket's real socket, waiting (with its timeout) the way
    gevent's own `recv` does (`_wait(_read_event)`); a reset before the first byte is
    geventhttpclient's `HTTPConnectionClosed` (a stale keep-alive connection, retried)."""
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


def _streamed(response: Any) -> bool:
    """A 2xx `text/event-stream`: its body will be read by the reactor."""
    ctype = (response.get("content-type") or "").lower()
    return 200 <= response.get_code() < 300 and "text/event-stream" in ctype
