"""The Locust-side arrival clock: a worker cut off from the master skips its arrivals."""

from __future__ import annotations

import locust  # noqa: F401  (gevent must patch first)

import time
from time import perf_counter
from types import SimpleNamespace

import gevent

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.scenario.schema import Load
from llm_load.locust.arrivals import CUT_OFF_S, ArrivalClock, cut_off


def test_cut_off_means_no_heartbeat_reply_for_cut_off_s():
    assert not cut_off(SimpleNamespace(last_heartbeat_timestamp=None))  # not connected yet
    assert not cut_off(SimpleNamespace(last_heartbeat_timestamp=time.time() - 1))
    assert cut_off(SimpleNamespace(last_heartbeat_timestamp=time.time() - CUT_OFF_S - 1))


def test_arrivals_due_while_cut_off_are_skipped_not_counted():
    book = MetricsBook()
    load = Load(users=2, spawn_rate=2, rate=100, arrival="constant")
    clock = ArrivalClock(load, book, run_time_s=10, seed=0, users=2)
    away = [True]
    gevent.get_hub().loop.update_now()  # an idle hub's clock lags: timers would fire at once
    clock.cut_off = lambda: away[0]
    gevent.spawn_later(0.3, away.__setitem__, 0, False)
    at = clock.claim()  # waits until the worker hears the master again (checked every 0.1 s)
    assert at is not None and at - clock.start > 0.15 and at >= perf_counter() - 0.15
    assert book.arrivals.dropped == 0 and book.arrivals.sent == 0
