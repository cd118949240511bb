"""One greenlet reads every active SSE stream of a worker process from one `epoll`.

Why: at hundreds of concurrent streams the client's cost per chunk is mostly the cost of
a wake-up (a greenlet switch per socket per token). Here a user greenlet sends its request
and gets the headers as usual, then parks its socket with the reactor and sleeps until the
response is complete. The reactor wakes once for *all* readable sockets, reads each in one
`recv`, stamps its arrival time and hands the bytes on. When many streams are active it
sleeps `batch_delay_s` after each pass, so one wake serves a batch of sockets. The stamp is
the kernel's receive time of the last segment read (plain TCP on Linux), so a pass that
runs late does not make tokens late; elsewhere (TLS) it is the time of the pass. It also
watches each socket from the moment its request is sent (`watch`, called by the stamped
header read of a connection whose `WirePool` was handed this reactor): until the user
greenlet hands the stream over, it only peeks when data arrives and notes when
(`stamps.Marks`), so a user greenlet that reads its headers late (hundreds of requests
ending and starting together) still gets its first token's own arrival. All per-stream
state lives in the reactor's own tables (by descriptor, and by response while watched).
A watchdog fails streams idle for `idle_timeout_s`; a stream read with a `FirstToken`
deadline gets a libev timer that fails it with `TTFTTimeout` if no token came by then.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Callable
from time import perf_counter
from typing import Any

import gevent
from gevent.event import AsyncResult
from gevent.hub import get_hub
from gevent.monkey import get_original

from llm_load.kernel_stamps import enabled as kernel_stamps_enabled
from llm_load.kernel_stamps import turn_on
from llm_load.locust.wire import stamps
from llm_load.locust.wire.body import RECV_BYTES, FirstToken, StreamClosed, end_of_body

__all__ = ["StreamReactor"]

TIMEOUT_CHECK_S = 0.25
PEEK_EVERY = 32  # reads between two looks at the watched sockets during a pass


OnBlock = Callable[[bytes, float], None]


class _Stream:
    __slots__ = (
        "arrived_s",
        "done",
        "epoll",
        "fd",
        "last_s",
        "marks",
        "on_block",
        "raw",
        "recv",
        "seen",
        "sock",
        "stamped",
        "tls",
    )

    def __init__(self, raw: Any, on_block: OnBlock | None, now: float, stamp: bool) -> None:
        self.raw = raw
        self.sock = sock = raw._sock
        self.fd = -1 if sock is None else sock.fileno()
        self.on_block = on_block
        self.done: AsyncResult = AsyncResult()
        self.last_s = now
        self.arrived_s: float | None = None  # kernel stamp of the headers' last read
        # Plain TCP: the real (non-blocking) socket's C recv, skipping gevent's Python
        # wrapper; only called when epoll says readable. TLS keeps gevent's socket.
        self.tls = sock is not None and hasattr(sock, "pending")
        self.recv: Any = None if sock is None else sock.recv if self.tls else sock._sock.recv
        self.stamped = stamp and sock is not None and not self.tls and turn_on(sock._sock)
        self.marks: stamps.Marks | None = None  # arrivals seen by peeks, not yet read
        self.seen: Callable[[], bool] | None = None  # set while the first token is awaited
        self.epoll: Any = None  # the epoll it is registered with


class StreamReactor:
    """Reads registered HTTP responses to their end on behalf of waiting greenlets."""

    def __init__(
        self,
        *,
        idle_timeout_s: float = 60.0,
        batch_delay_s: float = 0.001,
        batch_min_streams: int = 32,
        kernel_stamps: bool | None = None,
    ) -> None:
        """`kernel_stamps` (default: `llm_load.kernel_stamps.enabled()`, read now) stamps
        each read with the kernel's receive time instead of the time of the pass."""
        self.kernel_stamps = kernel_stamps_enabled() if kernel_stamps is None else kernel_stamps
        self.idle_timeout_s = idle_timeout_s
        self.batch_delay_s = batch_delay_s
        self.batch_min_streams = batch_min_streams
        epoll = get_original("select", "epoll")  # gevent's patch removes it
        self._epoll = epoll()
        # Watched sockets (edge-triggered: one event per arrival) have an epoll of their own,
        # itself in the main one: a pass peeks at them first and again every PEEK_EVERY reads.
        self._watching = epoll()
        self._epoll.register(self._watching.fileno(), select.EPOLLIN)
        self._streams: dict[int, _Stream] = {}  # by descriptor: what each epoll event is for
        self._watches: dict[int, _Stream] = {}  # by id(response): watched, not yet read
        self._watcher = get_hub().loop.io(self._epoll.fileno(), 1)
        self._greenlets: list[gevent.Greenlet] = []
        self.wakeups = 0
        self.last_pass_s = 0.0

    def watch(self, raw: Any) -> stamps.Marks | None:
        """Note when `raw`'s bytes arrive until `read` takes it over (None: cannot, e.g. TLS
        or no kernel stamps). Called as its header read starts (its request just sent)."""
        stream = _Stream(raw, None, perf_counter(), self.kernel_stamps)
        if not stream.stamped:
            return None
        stream.marks = stamps.Marks()
        self._watches[id(raw)] = stream
        self._add(stream.fd, stream, self._watching, select.EPOLLIN | select.EPOLLET)
        return stream.marks

    def headers_read(self, raw: Any, arrived_s: float | None, *, streamed: bool) -> None:
        """`raw`'s headers are in, the last of them stamped `arrived_s`: keep watching it
        until `read` takes it over when it is `streamed` (a 2xx event stream), else stop."""
        stream = self._watched(raw)
        if stream is None:
            return
        if streamed:
            stream.arrived_s = arrived_s
        else:
            self._forget(stream.fd, stream)

    def unwatch(self, raw: Any) -> None:
        """Stop watching `raw` (its body will not be read here)."""
        stream = self._watched(raw)
        if stream is not None:
            self._forget(stream.fd, stream)

    def _watched(self, raw: Any) -> _Stream | None:
        """`raw`'s stream while it is only watched (not yet taken over by `read`)."""
        stream = self._watches.get(id(raw))
        if stream is None or stream.raw is not raw or stream.on_block is not None:
            return None
        return stream

    def _add(self, fd: int, stream: _Stream, epoll: Any, events: int) -> None:
        old = self._streams.get(fd)  # a watch taken over, or a socket closed meanwhile
        if old is not None:
            self._unregister(fd, old)
            if old is not stream:
                self._drop_watch(old)
        self._streams[fd] = stream
        epoll.register(fd, events)
        stream.epoll = epoll
        if not self._greenlets:
            self._greenlets = [gevent.spawn(self._run), gevent.spawn(self._watchdog)]

    def _drop_watch(self, stream: _Stream) -> None:
        key = id(stream.raw)
        if self._watches.get(key) is stream:
            del self._watches[key]

    def _claim(self, raw: Any, on_block: OnBlock, now: float) -> _Stream | None:
        """The watched stream of `raw`, now read here, or None."""
        stream = self._watched(raw)
        if stream is not None:
            self._drop_watch(stream)
            # Bytes read with the headers arrived when the kernel stamped them (a first
            # token, if this greenlet ran late), not when the reactor took them over.
            arrived = stream.arrived_s
            stream.on_block = on_block
            stream.last_s = now if arrived is None else min(arrived, now)
        return stream

    def read(
        self,
        raw: Any,
        on_block: Callable[[bytes, float], None],
        seen: Callable[[], bool] | None = None,
        first_token: FirstToken | None = None,
    ) -> None:
        """Feed `on_block(bytes, perf_counter_s)` until `raw` (a geventhttpclient response)
        is complete; raises the transport error if it fails (`first_token`'s error when no
        token came by its deadline). Until `seen()` (the first token is in), the stream is
        read with the watched ones: first in a pass and every `PEEK_EVERY` reads. Blocks
        this greenlet only."""
        now = perf_counter()
        stream = self._claim(raw, on_block, now)
        if stream is not None:
            fd, last_s = stream.fd, stream.last_s
            if self._drain(stream, last_s):
                self._forget(fd, stream)
                return
        else:
            stream = _Stream(raw, on_block, now, self.kernel_stamps)
            if self._drain(stream, now):
                return
            if stream.sock is None:
                raise StreamClosed("connection released before the end of the response")
            fd = stream.fd
        if seen is not None and stream.stamped and not seen():
            stream.seen = seen
            self._add(fd, stream, self._watching, select.EPOLLIN | select.EPOLLET)
        else:
            self._add(fd, stream, self._epoll, select.EPOLLIN)
        timer = None
        if first_token is not None:
            timer = get_hub().loop.timer(max(0.0, first_token.at_s - perf_counter()))
            timer.start(self._first_token_due, fd, stream, first_token, seen)
        try:
            stream.done.get()
        finally:
            if timer is not None:
                timer.close()
            self._forget(fd, stream)

    def _first_token_due(
        self, fd: int, stream: _Stream, first_token: FirstToken, seen: Callable[[], bool] | None
    ) -> None:
        if (seen is None or not seen()) and self._streams.get(fd) is stream:
            self._forget(fd, stream)
            stream.done.set_exception(first_token.error())

    def _forget(self, fd: int, stream: _Stream) -> None:
        self._drop_watch(stream)
        if self._streams.get(fd) is stream:
            del self._streams[fd]
            self._unregister(fd, stream)

    @staticmethod
    def _unregister(fd: int, stream: _Stream) -> None:
        if stream.epoll is not None:
            with contextlib.suppress(OSError, ValueError):  # closed: the kernel dropped it
                stream.epoll.unregister(fd)
            stream.epoll = None

    @staticmethod
    def _drain(stream: _Stream, now: float) -> bool:
        """Hand over buffered body bytes; True when the response is complete."""
        raw = stream.raw
        buf = raw._body_buffer
        if buf:
            block = bytes(buf)
            del buf[:]
            stream.on_block(block, now)  # type: ignore[misc]  # set: read() took it over
        return bool(raw.message_complete)

    def _run(self) -> None:
        hub = get_hub()
        while True:
            hub.wait(self._watcher)
            self.wakeups += 1
            self.poll_now()
            if len(self._streams) >= self.batch_min_streams:
                gevent.sleep(self.batch_delay_s)

    def poll_if_due(self) -> None:
        """`poll_now` unless a pass ran within the batch delay (the reactor is keeping up)."""
        if perf_counter() - self.last_pass_s > self.batch_delay_s:
            self.poll_now()

    def poll_now(self) -> None:
        """One pass over the sockets that are readable now; never blocks (plain TCP).

        The reactor greenlet runs it after each wake; user greenlets also run it between
        requests, so a burst of their own work (hundreds of requests ending together)
        cannot hold back the arrival stamps of other streams until the burst is over."""
        if not self._streams:
            return
        ready = self._epoll.poll(0)
        now = self.last_pass_s = perf_counter()  # every ready socket's bytes had arrived by now
        self._peek_ready()
        for count, (fd, _) in enumerate(ready, 1):
            stream = self._streams.get(fd)
            if stream is not None and stream.on_block is not None:
                self._receive(fd, stream, now)
            if count % PEEK_EVERY == 0:
                self._peek_ready()

    def _peek_ready(self) -> None:
        """Note the arrivals on watched sockets since the last look; read those awaiting
        their first token (and move them to the main epoll once it is in)."""
        for fd, _ in self._watching.poll(0):
            stream = self._streams.get(fd)
            if stream is None:
                continue
            if stream.on_block is None:
                self._peek(fd, stream)
                continue
            self._receive(fd, stream, perf_counter())
            if stream.seen is not None and stream.seen() and self._streams.get(fd) is stream:
                stream.seen = None
                self._add(fd, stream, self._epoll, select.EPOLLIN)

    def _watchdog(self) -> None:
        while True:
            gevent.sleep(TIMEOUT_CHECK_S)
            self._expire(perf_counter())

    def _peek(self, fd: int, stream: _Stream) -> None:
        assert stream.marks is not None
        try:
            stream.marks.peek(stream.sock._sock)
        except BlockingIOError:
            pass
        except OSError:  # the user greenlet will meet the error when it reads
            self._forget(fd, stream)

    def close(self) -> None:
        """Stop the reactor's greenlets (streams still waiting get GreenletExit)."""
        self._watches.clear()
        for stream in list(self._streams.values()):
            stream.done.set_exception(gevent.GreenletExit())
        gevent.killall(self._greenlets)
        self._greenlets = []

    def _receive(self, fd: int, stream: _Stream, now: float) -> None:
        arrived = None
        try:
            try:
                if stream.stamped:
                    data, arrived = stamps.recv(stream.sock._sock, RECV_BYTES)
                    if arrived is not None:  # when the kernel received the last of them
                        now = min(now, max(stream.last_s, arrived))
                else:
                    data = stream.recv(RECV_BYTES)
            except BlockingIOError:  # a spurious wake: nothing to read after all
                return
            while data and stream.tls and stream.sock.pending():
                data += stream.sock.recv(RECV_BYTES)  # TLS: decrypted bytes epoll cannot see
            if data and stream.marks is not None:
                complete = self._feed_marked(stream, data, arrived, now)
            elif data:
                stream.last_s = now
                stream.raw.feed(data)
                complete = self._drain(stream, now)
            else:
                stream.last_s = now
                end_of_body(stream.raw)  # a body delimited by the end of the connection
                complete = self._drain(stream, now)
            if complete:
                self._forget(fd, stream)
                stream.done.set(None)
        except BaseException as error:  # handed to the waiting greenlet, never lost
            self._forget(fd, stream)
            stream.done.set_exception(error)

    @classmethod
    def _feed_marked(cls, stream: _Stream, data: bytes, arrived: float | None, now: float) -> bool:
        """Feed `data` (read at `now`) in parts, each with the arrival a peek noted for it;
        True when the response is complete."""
        assert stream.marks is not None
        pos = 0
        for size, at in stream.marks.split(len(data), arrived):
            t = stream.last_s = now if at is None else min(now, max(stream.last_s, at))
            stream.raw.feed(data[pos : pos + size])
            pos += size
            if cls._drain(stream, t):
                return True
        stream.last_s = now
        if not stream.marks.ends:
            stream.marks = None  # every peeked byte is read: plain reads from now on
        return False

    def _expire(self, now: float) -> None:
        limit = now - self.idle_timeout_s
        for fd, stream in list(self._streams.items()):
            if stream.last_s < limit:
                self._forget(fd, stream)
                stream.done.set_exception(
                    TimeoutError(f"no data from the server for {self.idle_timeout_s:g} s")
                )
