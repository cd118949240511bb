"""The open-loop side of a scenario's `load.rate` / rate stages: `ArrivalClock`.

Each load-generating process (the local runner, or each worker) keeps one clock, built at
`test_start` from the scenario. Users claim arrivals one at a time when they are free
(`claim`), sleep until the intended send time, and the request's latencies are measured
from that time (see `LLMUser.chat_completion(scheduled_at=...)`), so a generator that falls
behind shows it as schedule lag and higher latency instead of hiding it. An arrival nobody
could send within `load.max_lag_s` is dropped and counted, as are arrivals still overdue
when the test stops. In distributed runs the master tells each worker its share of the
rate (`SHARE_MESSAGE`, rank and count of the running workers), again whenever workers join
or leave. A worker cut off from the master (no heartbeat reply for `CUT_OFF_S`, when the
master counts it missing and gives its share to the others) sends no arrivals until it hears
the master again, so the rate is not exceeded while it is away.
"""

from __future__ import annotations

from locust.runners import HEARTBEAT_LIVENESS, STATE_INIT, STATE_RUNNING, STATE_SPAWNING

import logging
import time
from collections.abc import Callable
from time import perf_counter
from typing import Any

import gevent
import gevent.event

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.scenario.arrivals import ArrivalSchedule
from llm_load.core.scenario.schema import Load, Scenario
from llm_load.core.scenario.trace import TraceSchedule

__all__ = ["SHARE_MESSAGE", "ArrivalClock", "cut_off", "share_rate", "trace_schedule"]

log = logging.getLogger("llm_load")
SHARE_MESSAGE = "llm_load_arrival_share"
CUT_OFF_S = HEARTBEAT_LIVENESS + 2.0  # about when the master marks a silent worker missing


class ArrivalClock:
    """One process's arrival schedule; outcomes go to `book.arrivals`."""

    def __init__(
        self,
        load: Load,
        book: MetricsBook,
        *,
        run_time_s: float | None,
        seed: Any,
        users: int,
        schedule: Any = None,  # another schedule (a trace's), else the load's rate
    ) -> None:
        self.schedule = schedule or ArrivalSchedule(
            load.rate_segments(run_time_s), poisson=load.arrival == "poisson", seed=seed
        )
        self.book = book
        self.max_lag_s = load.max_lag_s
        self.users = users
        self.start = perf_counter()
        self._next: float | None = None
        self._warned = False
        self.cut_off: Callable[[], bool] = lambda: False  # a worker: `cut_off(runner)`
        self._changed = gevent.event.Event()  # set (and replaced) when the rate changes

    def set_share(self, rank: int, count: int) -> None:
        self.schedule.set_share(rank, count)

    def set_rate(self, rate: float) -> None:
        """`rate` req/s (the whole load's, this process makes its share) from now on; users
        waiting for an arrival of the old rate are woken (`wait` returns True)."""
        self.schedule.set_rate(rate, perf_counter() - self.start)
        self._next = None
        changed, self._changed = self._changed, gevent.event.Event()
        changed.set()

    def wait(self, delay_s: float) -> bool:
        """Sleep up to `delay_s` until a claimed arrival is due; True when the rate changed
        meanwhile (the arrival was of the old rate: claim again)."""
        return bool(self._changed.wait(delay_s))

    def claim(self) -> float | None:
        """The perf_counter time the caller should send its next request at (maybe already
        past), or None when the schedule has ended. Overdue arrivals are dropped here."""
        self._wait_while_cut_off()
        now = perf_counter()
        while True:
            at = self._pop()
            if at is None:
                return None
            if now - at <= self.max_lag_s:
                return at
            self._dropped(1)

    def _wait_while_cut_off(self) -> None:
        """While the master counts this worker lost, the others send its share: skip (and do
        not count) the arrivals falling due meanwhile."""
        while self.cut_off():
            now = perf_counter()
            while (at := self._pop()) is not None and at <= now:
                pass
            self._next = at
            gevent.sleep(0.1)

    def _pop(self) -> float | None:
        at = self._next if self._next is not None else self._draw()
        self._next = None
        return at

    def _draw(self) -> float | None:
        t = self.schedule.next()
        return None if t is None else self.start + t

    def sent(self, at: float, sent_at: float) -> None:
        """Account an arrival sent at `sent_at` (perf_counter s) for its intended `at`."""
        lag_ms = (sent_at - at) * 1000.0
        self.book.arrivals.add_sent(lag_ms)
        if lag_ms > 1000.0:
            self._warn()

    def drop_overdue(self) -> None:
        """At test stop: arrivals already due that no user sent are dropped."""
        now = perf_counter()
        dropped = 0
        while (at := self._pop()) is not None and at <= now:
            dropped += 1
        self._next = at
        self._dropped(dropped)

    def _dropped(self, count: int) -> None:
        if count:
            self.book.arrivals.dropped += count
            self._warn()

    def _warn(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "open loop: arrivals are late or dropped because all %d users of this process "
                "are busy; raise load.users (or -u) to sustain the rate",
                self.users,
            )


def cut_off(runner: Any) -> bool:
    """Worker: no heartbeat reply from the master for `CUT_OFF_S` (it counts us missing)."""
    last = runner.last_heartbeat_timestamp
    return last is not None and time.time() - last > CUT_OFF_S


def share_rate(runner: Any, last: tuple[str, ...]) -> tuple[str, ...]:
    """Master: tell each live worker its (rank, count) share when the set of workers changed
    since `last`; returns the current set."""
    live = tuple(
        sorted(
            c.id
            for c in runner.clients.values()
            if c.state in (STATE_INIT, STATE_SPAWNING, STATE_RUNNING)
        )
    )
    if live != last:
        for rank, client_id in enumerate(live):
            data = {"rank": rank, "count": len(live)}
            runner.send_message(SHARE_MESSAGE, data, client_id=client_id)
    return live


def trace_schedule(scenario: Scenario) -> TraceSchedule | None:
    """The schedule of a `trace:` scenario (None: the load's rate)."""
    if scenario.trace is None:
        return None
    return TraceSchedule(scenario.trace_entries, scenario.trace.time_scale)
