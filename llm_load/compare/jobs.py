"""Which request a compare user sends next: a fixed number of passes per model, bounded.

`JobBoard` hands out jobs (model, pass number) so that at most `parallel_models` models are
in flight at once, each with at most `parallel_requests` requests in flight; models start
in the order given, and the next one starts only when an active model has sent and
received all its passes. `take()` returns None when nothing may start right now: the
caller waits for a `done()` (or stops, once `finished`). Pure: no clocks, no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Job", "JobBoard"]


@dataclass(frozen=True, slots=True)
class Job:
    """Pass `number` (1-based) of `passes` for `model`."""

    model: str
    number: int
    passes: int


@dataclass(slots=True)
class _Active:
    next: int = 1  # the next pass number to hand out
    in_flight: int = 0


class JobBoard:
    """The passes still to send, and what is in flight."""

    def __init__(
        self, models: Sequence[str], passes: int, parallel_models: int, parallel_requests: int
    ) -> None:
        if passes < 1 or parallel_models < 1 or parallel_requests < 1:
            raise ValueError("passes and parallelism must be >= 1")
        self.models = tuple(models)
        self.passes = passes
        self.parallel_models = parallel_models
        self.parallel_requests = parallel_requests
        self._waiting = deque(self.models)
        self._active: dict[str, _Active] = {}

    @property
    def users(self) -> int:
        """How many senders can ever be busy at once."""
        models = min(self.parallel_models, len(self.models))
        return models * min(self.parallel_requests, self.passes)

    @property
    def in_flight(self) -> int:
        return sum(a.in_flight for a in self._active.values())

    @property
    def active_models(self) -> tuple[str, ...]:
        return tuple(self._active)

    @property
    def finished(self) -> bool:
        """Every pass of every model was handed out and is done."""
        return not self._waiting and not self._active

    def take(self) -> Job | None:
        """The next job, or None when none may start now (or ever: see `finished`)."""
        for model, active in self._active.items():
            if active.next <= self.passes and active.in_flight < self.parallel_requests:
                return self._start(model, active)
        if self._waiting and len(self._active) < self.parallel_models:
            model = self._waiting.popleft()
            active = self._active[model] = _Active()
            return self._start(model, active)
        return None

    def _start(self, model: str, active: _Active) -> Job:
        job = Job(model, active.next, self.passes)
        active.next += 1
        active.in_flight += 1
        return job

    def done(self, job: Job) -> None:
        """`job` got its answer (or failed); its model retires after its last pass."""
        active = self._active[job.model]
        active.in_flight -= 1
        if active.next > self.passes and active.in_flight == 0:
            del self._active[job.model]
