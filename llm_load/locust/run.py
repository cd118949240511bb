"""One run's LLM state on a Locust environment, and the listeners that keep it.

`attach(environment)` creates the `LLMRun` (settings, the `MetricsBook`, start time) and
wires every listener in one place: settings resolved at `test_start`; workers ship their
book (and `--llm-requests` rows) in `report_to_master` (then reset) and once more when
they stop; the master merges in `worker_report`; the local runner or the master writes the
summary and prints the table at `test_stop`; a master writes again and prints at
`quitting`, after the workers' last reports. On the local runner or the master a ticker
samples the user count once per time-series interval and compacts old windows.
"""

from __future__ import annotations

from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

import gc
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import requests

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.slo import SLOError
from llm_load.core.metrics.summary import build_summary, stage_index, write_summary
from llm_load.core.metrics.thresholds import ThresholdError, evaluate
from llm_load.core.scenario.schema import Scenario, ScenarioError
from llm_load.locust.arrivals import SHARE_MESSAGE, ArrivalClock, share_rate
from llm_load.locust.reactor import StreamReactor
from llm_load.locust.request_log import RequestLog
from llm_load.locust.settings import Settings, resolve_settings
from llm_load.locust.webui import attach_web_ui
from llm_load.locust.workers import STOP_USERS, Workers
from llm_load.report.console import print_summary

__all__ = ["LLMRun", "attach", "llm_run"]

log = logging.getLogger("llm_load")
FINAL_REPORT = "llm_load_final_report"
REPORT_KEY = "llm_load"
THRESHOLDS_FAILED = 3
WATCH_INTERVAL_S = 1.0
FINAL_REPORT_WAIT_S = 0.5
COMPACT_AFTER_S = 30.0  # a window this old has every worker's report: keep only its point
QUIT_WAIT_S = 60.0  # a second, concurrent shutdown waits this long for the first


class LLMRun:
    """The LLM side of one Locust environment: settings, metrics and summary."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.book = MetricsBook()
        # A worker's own options are replaced by the master's at test_start: never fail here.
        on_error = log_scenario_error if isinstance(environment.runner, WorkerRunner) else None
        self.settings = resolve_settings(
            environment.parsed_options, environment.host or "", on_error=on_error
        )
        # The key given at start-up: the web form submits secret fields blank (see webui).
        self.configured_key: str = getattr(environment.parsed_options, "api_key", "") or ""
        self.model = self.settings.model
        self.started_wall: float | None = None
        self.started_perf = 0.0
        self.stopped_perf: float | None = None
        self.reactor: StreamReactor | None = None
        self.workers = Workers()  # a master's account of its workers
        self._lost_watch: gevent.Greenlet | None = None
        self.users: dict[int, int] = {}  # time-series window key -> users running
        self.stages: list[dict[str, Any]] = []
        self.request_log: RequestLog | None = None
        self.interrupted = False  # stopped by Ctrl-C / SIGTERM rather than by its end
        self.arrivals: ArrivalClock | None = None  # open-loop scenarios only
        self.arrival_share = (0, 1)  # this worker's (rank, count) of the rate
        self._ticker: gevent.Greenlet | None = None
        self._quit_done: gevent.event.Event | None = None  # set once on_quitting is done
        # Extra per-request observers (the capacity search): add(rec), sending(epoch_s),
        # extend_summary(summary).
        self.observers: list[Any] = []

    def add(self, rec: RequestRecord) -> None:
        """Account one finished call (the users' single entry point)."""
        self.book.add(rec)
        if self.request_log is not None:
            self.request_log.add(rec)
        for observer in self.observers:
            observer.add(rec)

    def sending(self, started_at: float) -> None:
        """A call goes out; `started_at` (epoch s) is its record's `started_at`."""
        for observer in self.observers:
            observer.sending(started_at)

    # -- lifecycle -------------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        env = self.environment
        self.settings = resolve_settings(
            env.parsed_options, env.host or "", self.configured_key, on_error=log_scenario_error
        )
        self.book.reset()
        self.book.slo = self.settings.slo
        self.started_wall = time.time()
        self.started_perf = time.perf_counter()
        self.stopped_perf = None
        self.interrupted = False
        self.workers.reset()
        self.users.clear()
        self.stages = scenario_stages(self.settings.scenario)
        self._open_request_log()
        if isinstance(env.runner, MasterRunner) and self._lost_watch is None:
            self._lost_watch = gevent.spawn(self._watch_workers, env.runner)
        if not isinstance(env.runner, WorkerRunner):
            self._stop_ticker()
            self._ticker = gevent.spawn(self._tick)
        if not isinstance(env.runner, MasterRunner):
            self.model = self.settings.model or discover_model(self.settings)
            self._start_reactor()
            self._start_arrivals()

    def _start_arrivals(self) -> None:
        scenario = self.settings.scenario
        self.arrivals = None
        if scenario is None or not scenario.load.open_loop:
            return
        runner = self.environment.runner
        worker = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        run_time = getattr(self.environment.parsed_options, "run_time", None)
        self.arrivals = ArrivalClock(
            scenario.load,
            self.book,
            run_time_s=float(run_time) if run_time else None,
            seed=f"{scenario.seed}:{worker}",
            users=scenario.load.users,
        )
        self.arrivals.set_share(*self.arrival_share)

    def arrival_sent(self, at: float, sent_at: float) -> None:
        """An open-loop request intended for `at` went out at `sent_at` (perf_counter s)."""
        if self.arrivals is not None:
            self.arrivals.sent(at, sent_at)

    def on_arrival_share(self, msg: Any, **_: Any) -> None:
        """Worker: the master's (rank, count) split of the open-loop rate."""
        self.arrival_share = (int(msg.data["rank"]), int(msg.data["count"]))
        if self.arrivals is not None:
            self.arrivals.set_share(*self.arrival_share)

    def _open_request_log(self) -> None:
        if self.request_log is not None:
            self.request_log.close()
        path = self.settings.llm_requests
        runner = self.environment.runner
        if not path:
            self.request_log = None
        elif isinstance(runner, WorkerRunner):
            self.request_log = RequestLog(path, worker=runner.client_id, slo=self.settings.slo)
        else:
            self.request_log = RequestLog(path, worker=None, slo=self.settings.slo)
            self.request_log.open()

    def _tick(self) -> None:
        """At each interval's end: note the users running then, compact old windows, and
        write buffered rows."""
        series = self.book.series
        while True:
            now = time.time()
            gevent.sleep((series.key(now) + 1) * series.interval_s - now + 0.001)
            now = time.time()
            self.users[series.key(now) - 1] = self.environment.runner.user_count
            series.compact(series.key(now - COMPACT_AFTER_S))
            if self.request_log is not None:
                self.request_log.flush(self.stage_of)

    def on_test_stopping(self, **_: Any) -> None:
        """The users still running when the test is told to stop (the last interval's)."""
        if not isinstance(self.environment.runner, WorkerRunner):
            self.users[self.book.series.key(time.time())] = self.environment.runner.user_count

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.kill(block=False)
            self._ticker = None

    def stage_of(self, epoch_s: float) -> int | None:
        """The index of the scenario stage running at `epoch_s`, or None."""
        return stage_index(self.stages, epoch_s - (self.started_wall or epoch_s))

    def _start_reactor(self) -> None:
        if self.reactor is not None:
            self.reactor.close()
            self.reactor = None
        if self.settings.stream_reader == "reactor":
            self.reactor = StreamReactor(idle_timeout_s=self.settings.request_timeout_s)

    def on_test_stop(self, **_: Any) -> None:
        runner = self.environment.runner
        if self.arrivals is not None:
            self.arrivals.drop_overdue()
        if isinstance(runner, WorkerRunner):
            data: dict[str, Any] = {}
            self.on_report_to_master(runner.client_id, data)
            runner.send_message(FINAL_REPORT, data)
            return
        if isinstance(runner, MasterRunner):
            self.workers.stop_users(runner, self.environment.stop_timeout or 0)
        self._stop_ticker()
        self.stopped_perf = time.perf_counter()
        # A master's table waits for `quitting`: workers' last reports can still arrive.
        self.finish(show=not isinstance(runner, MasterRunner))

    def on_quitting(self, **_: Any) -> None:
        # Locust may run its shutdown twice at once (SIGTERM on a master whose last worker
        # quits meanwhile): the second call waits for the first, then lets Locust exit.
        if self._quit_done is not None:
            self._quit_done.wait(QUIT_WAIT_S)
            return
        self._quit_done = gevent.event.Event()
        try:
            self._on_quitting()
        finally:
            self._quit_done.set()

    def _on_quitting(self) -> None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            # Fired before Locust's own listener tells the master "quit": stop first, so
            # the final report (sent at test_stop) reaches the master before the goodbye.
            runner.stop()
            return
        if runner is None:
            return
        if runner.state in (STATE_RUNNING, STATE_SPAWNING):
            # Ctrl-C or SIGTERM: Locust quits without stopping the test first. Stop it
            # now, so the summary (marked interrupted) and its exit code come before exit.
            self.interrupted = True
            log.warning("interrupted: stopping the test and writing what was measured")
            runner.stop()
        if isinstance(runner, MasterRunner) and self.started_wall:
            gevent.sleep(FINAL_REPORT_WAIT_S)  # the workers' final reports
            self.finish(show=True)
        if self.request_log is not None:
            self.request_log.close()

    # -- distributed -----------------------------------------------------------------
    def on_final_report(self, client_id: str, data: dict[str, Any]) -> None:
        self.on_worker_report(client_id, data)
        self.workers.reported.add(client_id)

    def _watch_workers(self, runner: MasterRunner) -> None:
        """Remember every worker Locust's heartbeat check marks missing (it forgets them),
        and re-split an open-loop rate when workers join or leave."""
        live: tuple[str, ...] = ()
        while True:
            scenario = self.settings.scenario
            if scenario is not None and scenario.load.open_loop:
                live = share_rate(runner, live)
            gevent.sleep(WATCH_INTERVAL_S)
            self.workers.note_missing(runner)

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY] = self.book.to_dict()
        self.book.reset()
        if self.request_log is not None:
            self.request_log.ship(data)

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        runner = self.environment.runner
        if isinstance(runner, MasterRunner) and not self.workers.knows(runner, client_id):
            return  # an orphan of a killed master still reporting (docs/failures.md)
        if REPORT_KEY in data:
            self.book.merge(MetricsBook.from_dict(data[REPORT_KEY]))
        if self.request_log is not None:
            self.request_log.receive(data, self.stage_of)

    # -- results ---------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        end = self.stopped_perf if self.stopped_perf is not None else time.perf_counter()
        return max(0.0, end - self.started_perf) if self.started_wall else 0.0

    def summary(self) -> dict[str, Any]:
        """The run's summary.json dict, thresholds evaluated."""
        summary = build_summary(
            self.book,
            started_at=self.started_wall or time.time(),
            duration_s=self.duration_s,
            target=self.settings.host,
            settings=self.settings.public(),
            users=self.users,
            stages=self.stages,
        )
        summary["interrupted"] = self.interrupted
        if isinstance(self.environment.runner, MasterRunner):
            summary["workers_lost"] = len(self.workers.lost)
        if self.request_log is not None:
            summary["requests_log"] = self.request_log.summary()
        if "arrivals" in summary and self.settings.scenario is not None:
            load = self.settings.scenario.load
            summary["arrivals"].update(arrival=load.arrival, rate_per_s=load.rate)
        for observer in self.observers:
            observer.extend_summary(summary)
        return evaluate(list(self.settings.thresholds), summary)

    def finish(self, show: bool = True) -> None:
        """Write `--llm-requests` rows, `--llm-json`, `--llm-html`, and print the table."""
        if self.request_log is not None:
            self.request_log.flush(self.stage_of)
        summary = self.summary()
        if self.settings.thresholds:  # thresholds, not Locust's failure count, decide
            self.environment.process_exit_code = 0 if summary["passed"] else THRESHOLDS_FAILED
        if self.settings.llm_json:
            write_summary(summary, self.settings.llm_json)
            log.info("LLM summary written to %s", self.settings.llm_json)
        if self.settings.llm_html:
            write_html_report(summary, self.settings.llm_html)
        if show:
            print_summary(summary)


def scenario_stages(scenario: Scenario | None) -> list[dict[str, Any]]:
    """`stages` of summary.json: each load stage's index, start (s) and a label."""
    stages: list[dict[str, Any]] = []
    start = 0.0
    for index, stage in enumerate(scenario.load.stages or () if scenario else ()):
        label = f"{stage.users} users (+{stage.spawn_rate:g}/s)"
        stages.append({"index": index, "start_s": start, "label": label})
        start += stage.duration_s
    return stages


def write_html_report(summary: dict[str, Any], path: str) -> None:
    """`--llm-html`: the self-contained HTML report, written atomically."""
    from llm_load.report.html import render_html

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_html(summary), encoding="utf-8")
    os.replace(tmp, target)
    log.info("LLM HTML report written to %s", path)


def discover_model(settings: Settings) -> str:
    """The first model id served by `GET /v1/models`, or "" (requests then fail visibly)."""
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    try:
        resp = requests.get(
            settings.base_url + "/models",
            headers=headers,
            timeout=10,
            verify=not settings.insecure,
        )
        resp.raise_for_status()
        return str(resp.json()["data"][0]["id"])
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as error:
        log.error("--model not given and GET %s/models failed: %s", settings.base_url, error)
        return ""


def log_scenario_error(error: ScenarioError) -> None:
    """A scenario that cannot be loaded at test start: said once, and no traffic is sent."""
    log.error("--scenario cannot be used, no requests will be sent:\n%s", error)


def llm_run(environment: Any) -> LLMRun:
    """The environment's `LLMRun`; a clear error when `install()` was not called."""
    run = getattr(environment, "llm_load", None)
    if run is None:
        raise RuntimeError(
            "llm-load is not installed: call llm_load.locust.install() in your locustfile"
        )
    return run


def attach(environment: Any) -> LLMRun:
    """Create the environment's `LLMRun` and wire all its listeners (idempotent)."""
    existing = getattr(environment, "llm_load", None)
    if existing is not None:
        return existing
    try:
        run = LLMRun(environment)
    except (ThresholdError, ScenarioError, SLOError) as error:
        print(f"llm-load: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    environment.llm_load = run
    # gevent's loop keeps the time it last looked at; one that has not run since start-up
    # would fire Locust's `-t` timer at once when start-up took longer than the run time.
    gevent.get_hub().loop.update_now()
    events = environment.events
    events.test_start.add_listener(run.on_test_start)
    events.test_stopping.add_listener(run.on_test_stopping)
    events.test_stop.add_listener(run.on_test_stop)
    events.quitting.add_listener(run.on_quitting)
    # Users and their connections live for the whole test: move them out of the cyclic GC's
    # reach, so full collections (tens of ms at hundreds of streams) stop pausing the clock.
    events.spawning_complete.add_listener(lambda **_: gc.freeze())
    events.report_to_master.add_listener(run.on_report_to_master)
    events.worker_report.add_listener(run.on_worker_report)
    events.worker_connect.add_listener(lambda client_id, **_: run.workers.seen.add(client_id))
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(SHARE_MESSAGE, run.on_arrival_share)
        environment.runner.register_message(STOP_USERS, lambda *_, **__: environment.runner.stop())
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(
            FINAL_REPORT, lambda msg, **_: run.on_final_report(msg.node_id, msg.data)
        )
    attach_web_ui(environment, run)
    return run
