"""The timed replies of a chat completion: a streamed one and a non-streamed one.

A streamed reply keeps exactly one pending ``loop.call_at`` timer, re-armed for absolute times
``t_first + i * itl`` (no drift); every token is one precomputed HTTP chunk and one write, and
the truth record is stamped just before it. A non-streamed reply is one write after
TTFT + (N-1) * ITL. ``abort`` is called when the client goes away; ``on_done`` (a ``--parallel``
slot's release) runs once, whichever way a reply ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from llm_load.mock import payload
from llm_load.mock.truth import TruthRecord

if TYPE_CHECKING:
    from llm_load.mock.server import MockProtocol

__all__ = ["Delayed", "Stream", "done"]

_perf = time.perf_counter


class Stream:
    """A streamed reply: one pending ``call_at`` timer, re-armed at absolute times."""

    __slots__ = (
        "call_at",
        "conn",
        "due",
        "frames",
        "handle",
        "i",
        "itl",
        "jit",
        "n",
        "on_done",
        "record",
    )

    def __init__(
        self,
        conn: MockProtocol,
        record: TruthRecord,
        frames: payload.StreamFrames,
        itl: float,
        jit: Callable[[], float] | None,
    ) -> None:
        self.conn, self.record, self.frames, self.itl, self.jit = conn, record, frames, itl, jit
        self.n = frames.n
        self.call_at = asyncio.get_running_loop().call_at
        self.i, self.due = 0, 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.on_done: Callable[[], None] | None = None  # frees a --parallel slot

    def start(self, ttft: float) -> None:
        """Write headers and the role chunk now; schedule the first token after ``ttft`` s."""
        now = self.record.end_at = _perf()
        self.due = asyncio.get_running_loop().time() + ttft - (now - self.record.received_at)
        self.conn.write(self.frames.headers(not self.conn.keep_alive))
        self.handle = self.call_at(self.due, self.tick)

    def tick(self) -> None:
        """Write token ``i`` as its own HTTP chunk and re-arm for the next one."""
        i = self.i
        tokens = self.frames.tokens
        now = _perf()
        self.conn.write(tokens[i % len(tokens)])
        record = self.record
        record.offsets.append(now)
        i += 1
        self.i = record.tokens = i
        if i < self.n:
            self.due += self.itl if self.jit is None else self.itl * self.jit()
            self.handle = self.call_at(self.due, self.tick)
            return
        self.handle = None
        record.end_at, record.completed = _perf(), True
        self.conn.finish(self.frames.tail)
        done(self)

    def abort(self) -> None:
        """Client went away: stop the schedule; the record stays ``completed: false``."""
        _cancel(self)
        if self.record.offsets:
            self.record.end_at = self.record.offsets[-1]


def done(reply: Stream | Delayed) -> None:
    """Call the reply's `on_done` once."""
    callback, reply.on_done = reply.on_done, None
    if callback is not None:
        callback()


def _cancel(reply: Stream | Delayed) -> None:
    """Cancel the reply's pending timer, if any, and then it is done."""
    if reply.handle is not None:
        reply.handle.cancel()
        reply.handle = None
        done(reply)


class Delayed:
    """A non-streaming reply written once, after TTFT + (N-1) * ITL."""

    __slots__ = ("body", "conn", "handle", "n", "on_done", "record")

    def __init__(self, conn: MockProtocol, record: TruthRecord, body: bytes, n: int) -> None:
        self.conn, self.record, self.body, self.n = conn, record, body, n
        self.handle: asyncio.TimerHandle | None = None
        self.on_done: Callable[[], None] | None = None  # frees a --parallel slot

    def start(self, delay: float) -> None:
        """Schedule the single write ``delay`` seconds after the request was received."""
        loop = asyncio.get_running_loop()
        delay -= _perf() - self.record.received_at
        self.handle = loop.call_at(loop.time() + delay, self.fire)

    def fire(self) -> None:
        """Write the whole response."""
        self.handle = None
        record = self.record
        now = _perf()
        record.offsets.append(now)
        record.end_at, record.tokens, record.completed = now, self.n, True
        self.conn.finish(self.body)
        done(self)

    def abort(self) -> None:
        """Client went away before the reply was due."""
        _cancel(self)
