"""``--parallel N``: at most N replies generate at once, like a real server's batch slots.

llama.cpp's ``--parallel``, vLLM's ``--max-num-seqs``: a request that finds every slot busy
waits in a FIFO queue, and its time to first token starts when it gets a slot, so TTFT grows
with the queue while aggregate tokens/s plateaus at N streams — the saturation curve of a
real server. A queued request whose client went away gives up its place; a finished or
aborted reply hands its slot to the next in line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["Slots"]


class Waiting:
    """A queued reply; ``abort`` (the client went away) drops it from the line."""

    __slots__ = ("cancelled", "start")

    def __init__(self, start: Callable[[], None]) -> None:
        self.start = start
        self.cancelled = False

    def abort(self) -> None:
        self.cancelled = True


class Slots:
    """``limit`` generation slots (0: unlimited) and the queue of replies waiting for one."""

    __slots__ = ("free", "limit", "queue")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.free = limit
        self.queue: deque[Waiting] = deque()

    def acquire(self, start: Callable[[], None]) -> Waiting | None:
        """Call ``start`` now when a slot is free (None), else queue it (the `Waiting`)."""
        if not self.limit or self.free > 0:
            self.free -= 1
            start()
            return None
        waiting = Waiting(start)
        self.queue.append(waiting)
        return waiting

    def release(self) -> None:
        """A reply is done: its slot goes to the next live waiter, or back to the pool."""
        while self.queue:
            waiting = self.queue.popleft()
            if not waiting.cancelled:
                waiting.start()
                return
        self.free += 1

    @property
    def waiting(self) -> int:
        return sum(not w.cancelled for w in self.queue)
