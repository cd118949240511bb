"""What a local runner, a master and a worker each do with an `LLMRun`: their listeners.

`role_for(runner)` picks the role once (as Locust picks its runner class); `Role.wire`
registers its listeners and messages. Every role resets the run at `test_start`, and its LLM
numbers (not the time series) at the web UI's "Reset stats" (Locust's `reset_stats` event)
and, with Locust's `--reset-stats`, when spawning completes.
- `LocalRole` sends requests, samples the user count once per time-series interval (the
  ticker, which also compacts old windows and writes buffered `--llm-requests` rows), and at
  `test_stop` hands the summary to the outputs.
- `WorkerRole` sends requests, ships its book (and log rows) with each `report_to_master`
  (then resets it) and once more as its final report at `test_stop`, with its `tokenizer`
  object; it stops its users when the master says `STOP_USERS` and before it quits, so
  that report reaches the master first; it resets its numbers when the master says
  `RESET_STATS`.
- `MasterRole` merges the workers' reports, keeps the ticker, watches for lost workers and
  re-splits an open-loop rate; passes a "Reset stats" on to the workers and keeps only the
  time series of reports that crossed it; at `test_stop` it stops the workers' users, waits
  for their final reports, and only then writes the summary (with the workers'
  `tokenizer`): once, complete.
A Ctrl-C or SIGTERM while a test runs (local or master) stops it first, so the summary
(marked `interrupted`) and the exit code come before Locust exits.
"""

from __future__ import annotations

from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar

import gevent
import gevent.event

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.summary import Summary, WorkerReport
from llm_load.locust.arrivals import SHARE_MESSAGE, cut_off, share_rate
from llm_load.locust.workers import RESET_STATS, STOP_USERS, Workers

if TYPE_CHECKING:
    from llm_load.locust.run import LLMRun

__all__ = ["LocalRole", "MasterRole", "Role", "WorkerRole", "role_for"]

log = logging.getLogger("llm_load")
FINAL_REPORT = "llm_load_final_report"
WATCH_INTERVAL_S = 1.0
COMPACT_AFTER_S = 30.0  # a window this old has every worker's report: keep only its point
QUIT_WAIT_S = 60.0  # a second, concurrent shutdown waits this long for the first


class Role:
    """The listeners one kind of process adds to the run; subclasses fill the hooks."""

    lenient_settings: ClassVar[bool] = False  # tolerate bad options until test_start

    def __init__(self, run: LLMRun) -> None:
        self.run = run
        self._quit_done: gevent.event.Event | None = None  # set once on_quitting is done

    def wire(self, events: Any, runner: Any) -> None:
        events.test_start.add_listener(self.on_test_start)
        events.test_stopping.add_listener(self.on_test_stopping)
        events.test_stop.add_listener(self.on_test_stop)
        events.quitting.add_listener(self.on_quitting)
        events.reset_stats.add_listener(self.on_reset_stats)

    def on_test_start(self, **_: Any) -> None:
        self.run.start_test(worker=None)

    def on_reset_stats(self, **_: Any) -> None:
        """The web UI's "Reset stats" (it fires where the web UI runs: local or master)."""
        self.run.reset_stats(time.time())

    def on_test_stopping(self, **_: Any) -> None:
        """The users still running when the test is told to stop (the last interval's)."""

    def on_test_stop(self, **_: Any) -> None:
        if self.run.arrivals is not None:
            self.run.arrivals.drop_overdue()

    def on_quitting(self, **_: Any) -> None:
        # Locust may run its shutdown twice at once (SIGTERM on a master whose last worker
        # quits meanwhile): the second call waits for the first, then lets Locust exit.
        if self._quit_done is not None:
            self._quit_done.wait(QUIT_WAIT_S)
            return
        self._quit_done = gevent.event.Event()
        try:
            self.quit(self.run.environment.runner)
        finally:
            self._quit_done.set()

    def quit(self, runner: Any) -> None:
        """What this process does before Locust exits."""

    def extend(self, summary: Summary) -> None:
        """Add this role's fields to a summary."""
        summary["workers_lost"] = 0


class _WritingRole(Role):
    """A local runner or a master: keeps the users per interval, writes the summary."""

    def __init__(self, run: LLMRun) -> None:
        super().__init__(run)
        self._ticker: gevent.Greenlet | None = None

    def wire(self, events: Any, runner: Any) -> None:
        super().wire(events, runner)
        events.spawning_complete.add_listener(self._reset_after_spawning)

    def _reset_after_spawning(self, **_: Any) -> None:
        """Locust's `--reset-stats`: its tables reset whenever spawning completes; ours too."""
        if self.run.environment.reset_stats:
            self.on_reset_stats()

    def on_test_start(self, **_: Any) -> None:
        super().on_test_start()
        self._stop_ticker()
        self._ticker = gevent.spawn(self._tick)

    def _tick(self) -> None:
        """At each interval's end: note the users running then, compact old windows, and
        write buffered rows."""
        run = self.run
        series = run.book.series
        while True:
            now = time.time()
            gevent.sleep((series.key(now) + 1) * series.interval_s - now + 0.001)
            now = time.time()
            run.note_users(series.key(now) - 1)
            series.compact(series.key(now - COMPACT_AFTER_S))
            if run.request_log is not None:
                run.request_log.flush(run.stage_of)

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.kill(block=False)
            self._ticker = None

    def on_test_stopping(self, **_: Any) -> None:
        self.run.note_users()

    def on_test_stop(self, **_: Any) -> None:
        super().on_test_stop()
        self._stop_ticker()
        self.run.server_metrics.stop()  # the run's last scrape
        self.run.stopped_perf = time.perf_counter()
        self.run.finish(show=True)

    def quit(self, runner: Any) -> None:
        if runner is None:
            return
        if runner.state in (STATE_RUNNING, STATE_SPAWNING):
            # Ctrl-C or SIGTERM: Locust quits without stopping the test first. Stop it
            # now, so the summary (marked interrupted) and its exit code come before exit.
            self.run.interrupted = True
            log.warning("interrupted: stopping the test and writing what was measured")
            runner.stop()
        if self.run.request_log is not None:
            self.run.request_log.close()


class LocalRole(_WritingRole):
    """One process does everything."""

    def on_test_start(self, **_: Any) -> None:
        super().on_test_start()
        self.run.start_sending(worker_index=0, share=(0, 1))


class WorkerRole(Role):
    """Sends requests and reports its measurements to the master."""

    lenient_settings = True  # its own options are replaced by the master's at test_start

    def __init__(self, run: LLMRun) -> None:
        super().__init__(run)
        self.share = (0, 1)  # this worker's (rank, count) of an open-loop rate
        self.resets = 0  # the master's "Reset stats" messages received

    def wire(self, events: Any, runner: WorkerRunner) -> None:
        super().wire(events, runner)
        events.report_to_master.add_listener(self.on_report_to_master)
        runner.register_message(SHARE_MESSAGE, self.on_arrival_share)
        runner.register_message(STOP_USERS, lambda *_, **__: runner.stop())
        runner.register_message(RESET_STATS, self.on_reset_message)

    def on_test_start(self, **_: Any) -> None:
        runner = self.run.environment.runner
        self.run.start_test(worker=runner.client_id)
        self.run.start_sending(worker_index=runner.worker_index, share=self.share)
        if self.run.arrivals is not None:  # cut off from the master: its share went elsewhere
            self.run.arrivals.cut_off = lambda: cut_off(runner)

    def on_arrival_share(self, msg: Any, **_: Any) -> None:
        """The master's (rank, count) split of the open-loop rate."""
        self.share = (int(msg.data["rank"]), int(msg.data["count"]))
        if self.run.arrivals is not None:
            self.run.arrivals.set_share(*self.share)

    def on_reset_message(self, msg: Any, **_: Any) -> None:
        """The master's "Reset stats": from now on, by this process's clock."""
        self.resets = int(msg.data["resets"])
        self.run.reset_stats(time.time())

    def on_report_to_master(self, client_id: str, data: WorkerReport) -> None:
        data["llm_load_resets"] = self.resets
        data["llm_load"] = self.run.book.to_dict()
        self.run.book.reset()
        if self.run.request_log is not None:
            self.run.request_log.ship(data)

    def on_test_stop(self, **_: Any) -> None:
        super().on_test_stop()
        runner = self.run.environment.runner
        data: WorkerReport = {}
        self.on_report_to_master(runner.client_id, data)
        if (tokenizer := self.run.tokenizer()) is not None:
            data["llm_load_tokenizer"] = tokenizer
        runner.send_message(FINAL_REPORT, data)

    def quit(self, runner: Any) -> None:
        # Fired before Locust's own listener tells the master "quit": stop first, so the
        # final report (sent at test_stop) reaches the master before the goodbye.
        runner.stop()


class MasterRole(_WritingRole):
    """Merges the workers' reports and writes the summary once they are all in."""

    def __init__(self, run: LLMRun) -> None:
        super().__init__(run)
        self.workers = Workers()
        self._watch: gevent.Greenlet | None = None
        self.tokenizers: dict[str, dict[str, Any]] = {}  # each worker's `tokenizer` object

    def wire(self, events: Any, runner: MasterRunner) -> None:
        super().wire(events, runner)
        events.worker_report.add_listener(self.on_worker_report)
        events.worker_connect.add_listener(lambda client_id, **_: self.workers.seen.add(client_id))
        runner.register_message(
            FINAL_REPORT, lambda msg, **_: self.on_final_report(msg.node_id, msg.data)
        )

    def on_test_start(self, **_: Any) -> None:
        self.workers.reset()
        self.tokenizers.clear()
        super().on_test_start()
        if self._watch is None:
            self._watch = gevent.spawn(self._watch_workers, self.run.environment.runner)

    def _watch_workers(self, runner: MasterRunner) -> None:
        """Remember every worker Locust's heartbeat check marks missing (it forgets them),
        and re-split an open-loop rate when workers join or leave."""
        live: tuple[str, ...] = ()
        while True:
            scenario = self.run.settings.scenario
            if scenario is not None and (scenario.load.open_loop or scenario.trace):
                live = share_rate(runner, live)
            gevent.sleep(WATCH_INTERVAL_S)
            self.workers.note_missing(runner)

    def on_reset_stats(self, **_: Any) -> None:
        super().on_reset_stats()
        self.workers.reset_stats(self.run.environment.runner)

    def on_worker_report(self, client_id: str, data: WorkerReport) -> None:
        if not self.workers.knows(self.run.environment.runner, client_id):
            return  # an orphan of a killed master still reporting (docs/failures.md)
        run = self.run
        if "llm_load" in data:
            book = MetricsBook.from_dict(data["llm_load"])
            if self.workers.stale(client_id, data.get("llm_load_resets", 0)):
                run.book.series.merge(book.series)  # made before the reset: the series only
            else:
                run.book.merge(book)
        if run.request_log is not None:
            run.request_log.receive(data, run.stage_of)

    def on_final_report(self, client_id: str, data: WorkerReport) -> None:
        self.on_worker_report(client_id, data)
        self.workers.reported.add(client_id)
        if "llm_load_tokenizer" in data:
            self.tokenizers[client_id] = data["llm_load_tokenizer"]

    def on_test_stop(self, **_: Any) -> None:
        # The workers' last requests and reports first: the summary is written once, whole.
        self.workers.stop_users(self.run.environment.runner, self.run.environment.stop_timeout or 0)
        super().on_test_stop()

    def extend(self, summary: Summary) -> None:
        summary["workers_lost"] = len(self.workers.lost)
        if self.tokenizers:
            summary["tokenizer"] = workers_tokenizer(self.tokenizers)


def workers_tokenizer(by_worker: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The workers' `tokenizer` objects as one: the object they share with `workers` (how
    many reported it), or, when they differ, the first with each worker's in `by_worker`."""
    objects = [by_worker[worker] for worker in sorted(by_worker)]
    merged: dict[str, Any] = {**objects[0], "workers": len(objects)}
    if any(obj != objects[0] for obj in objects):
        merged["by_worker"] = dict(sorted(by_worker.items()))
    return merged


def role_for(runner: Any) -> type[Role]:
    """The role of a process with this Locust runner (local when there is none yet)."""
    if isinstance(runner, MasterRunner):
        return MasterRole
    if isinstance(runner, WorkerRunner):
        return WorkerRole
    return LocalRole
