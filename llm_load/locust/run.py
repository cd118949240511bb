"""One run's LLM state on a Locust environment, and the listeners that keep it.

`attach(environment)` creates the `LLMRun` (settings, the `MetricsBook`, start time) and
wires every listener in one place: settings resolved at `test_start`; workers ship their
book in `report_to_master` (then reset) and once more when they stop; the master merges
in `worker_report`; the local runner or the master writes the summary and prints the
table at `test_stop`; a master writes again and prints at `quitting`, after the
workers' last reports.
"""

from __future__ import annotations

from locust.runners import MasterRunner, WorkerRunner

import gc
import logging
import sys
import time
from typing import Any

import gevent
import requests

from llm_load.core.metrics import MetricsBook
from llm_load.core.scenario import ScenarioError
from llm_load.core.summary import build_summary, write_summary
from llm_load.core.thresholds import ThresholdError, evaluate
from llm_load.locust.reactor import StreamReactor
from llm_load.locust.settings import Settings, resolve_settings
from llm_load.locust.webui import attach_web_ui
from llm_load.report.console import print_summary

__all__ = ["LLMRun", "attach", "llm_run"]

log = logging.getLogger("llm_load")
FINAL_REPORT = "llm_load_final_report"
REPORT_KEY = "llm_load"
THRESHOLDS_FAILED = 3
WATCH_INTERVAL_S = 1.0


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
        self.workers_lost: set[str] = set()
        self._lost_watch: gevent.Greenlet | None = None

    # -- lifecycle -------------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        env = self.environment
        self.settings = resolve_settings(
            env.parsed_options, env.host or "", self.configured_key, on_error=log_scenario_error
        )
        self.book.reset()
        self.started_wall = time.time()
        self.started_perf = time.perf_counter()
        self.stopped_perf = None
        self.workers_lost.clear()
        if isinstance(env.runner, MasterRunner) and self._lost_watch is None:
            self._lost_watch = gevent.spawn(self._watch_workers, env.runner)
        if not isinstance(env.runner, MasterRunner):
            self.model = self.settings.model or discover_model(self.settings)
            self._start_reactor()

    def _start_reactor(self) -> None:
        if self.reactor is not None:
            self.reactor.close()
            self.reactor = None
        if self.settings.stream_reader == "reactor":
            self.reactor = StreamReactor(idle_timeout_s=self.settings.request_timeout_s)

    def on_test_stop(self, **_: Any) -> None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            runner.send_message(FINAL_REPORT, self.book.to_dict())
            self.book.reset()
            return
        self.stopped_perf = time.perf_counter()
        # A master's table waits for `quitting`: workers' last reports can still arrive.
        self.finish(show=not isinstance(runner, MasterRunner))

    def on_quitting(self, **_: Any) -> None:
        if isinstance(self.environment.runner, MasterRunner) and self.started_wall:
            self.finish(show=True)

    # -- distributed -----------------------------------------------------------------
    def _watch_workers(self, runner: MasterRunner) -> None:
        """Remember every worker Locust's heartbeat check marks missing (it forgets them)."""
        while True:
            gevent.sleep(WATCH_INTERVAL_S)
            for client in runner.clients.missing:
                if client.id not in self.workers_lost:
                    log.warning("worker %s stopped sending heartbeats: counted as lost", client.id)
                    self.workers_lost.add(client.id)

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY] = self.book.to_dict()
        self.book.reset()

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        if REPORT_KEY in data:
            self.merge(data[REPORT_KEY])

    def merge(self, wire: dict[str, Any]) -> None:
        self.book.merge(MetricsBook.from_dict(wire))

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
        )
        if isinstance(self.environment.runner, MasterRunner):
            summary["workers_lost"] = len(self.workers_lost)
        return evaluate(list(self.settings.thresholds), summary)

    def finish(self, show: bool = True) -> None:
        """Write `--llm-json` and print the table."""
        summary = self.summary()
        if self.settings.thresholds:  # thresholds, not Locust's failure count, decide
            self.environment.process_exit_code = 0 if summary["passed"] else THRESHOLDS_FAILED
        if self.settings.llm_json:
            write_summary(summary, self.settings.llm_json)
            log.info("LLM summary written to %s", self.settings.llm_json)
        if show:
            print_summary(summary)


def discover_model(settings: Settings) -> str:
    """The first model id served by `GET /v1/models`, or "" (requests then fail visibly)."""
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    try:
        resp = requests.get(settings.base_url + "/models", headers=headers, timeout=10)
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
    except (ThresholdError, ScenarioError) as error:
        print(f"llm-load: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    environment.llm_load = run
    events = environment.events
    events.test_start.add_listener(run.on_test_start)
    events.test_stop.add_listener(run.on_test_stop)
    events.quitting.add_listener(run.on_quitting)
    # Users and their connections live for the whole test: move them out of the cyclic GC's
    # reach, so full collections (tens of ms at hundreds of streams) stop pausing the clock.
    events.spawning_complete.add_listener(lambda **_: gc.freeze())
    events.report_to_master.add_listener(run.on_report_to_master)
    events.worker_report.add_listener(run.on_worker_report)
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(FINAL_REPORT, lambda msg, **_: run.merge(msg.data))
    attach_web_ui(environment, run)
    return run
