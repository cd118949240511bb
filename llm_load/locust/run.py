"""One run's LLM state on a Locust environment: `LLMRun`, and `attach(environment)`.

`LLMRun` keeps what every process has: settings, the `MetricsBook`, start and stop times,
the users per time-series window, the scenario's stages, the `--llm-requests` log, and on
the processes that send requests the stream reactor and the open-loop arrival clock.
`add(rec)` is the users' single entry point. What differs between a local runner, a master
and a worker (their listeners and messages) lives in one role object from
`llm_load.locust.roles`, chosen once by `attach`. A finished run's summary goes to the
output sink handed to `attach` (`--llm-json`, `--llm-html`, the console table): this layer
builds the summary, it does not render it.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from typing import Any, Protocol

import gevent

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.slo import SLOError
from llm_load.core.metrics.summary import Stage, Summary, add_api, build_summary, stage_index
from llm_load.core.metrics.thresholds import ThresholdError, evaluate
from llm_load.core.metrics.warmup import Warmup, WarmupError
from llm_load.core.scenario.datasets import Dialogue
from llm_load.core.scenario.schema import Scenario, ScenarioError
from llm_load.core.scenario.tokens import TokenFit
from llm_load.core.wire.endpoint import HeaderError
from llm_load.locust.arrivals import ArrivalClock, trace_schedule
from llm_load.locust.endpoint import discover_model
from llm_load.locust.otel import attach_otel
from llm_load.locust.prometheus import attach_prometheus
from llm_load.locust.request_log import RequestLog
from llm_load.locust.roles import Role, role_for
from llm_load.locust.server_metrics import ServerMetrics, attach_server_metrics
from llm_load.locust.settings import resolve_settings
from llm_load.locust.sigterm import sigterm_as_ctrl_c
from llm_load.locust.tokenizer import (
    CountedDataset,
    count_dataset,
    prepare_fit,
    tokenizer_summary,
    wants_fit,
)
from llm_load.locust.webui import attach_web_ui
from llm_load.locust.wire import StreamReactor

__all__ = ["LLMRun", "OutputSink", "attach", "llm_run"]

log = logging.getLogger("llm_load")
THRESHOLDS_FAILED = 3


class OutputSink(Protocol):
    """Where a finished run's summary goes (e.g. `llm_load.outputs.RunOutputs`)."""

    def write(self, summary: Summary, *, json_path: str, html_path: str, show: bool) -> None:
        """Write the files given a path ("" for none); print the table when `show`."""


class LLMRun:
    """The LLM side of one Locust environment: settings, metrics and summary."""

    def __init__(
        self, environment: Any, outputs: OutputSink | None = None, *, lenient: bool = False
    ) -> None:
        self.environment = environment
        self.outputs = outputs
        self.book = MetricsBook()
        # A worker's own options are replaced by the master's at test_start: never fail here.
        self.settings = resolve_settings(
            environment.parsed_options,
            environment.host or "",
            on_error=log_scenario_error if lenient else None,
        )
        # The key given at start-up: the web form submits secret fields blank (see webui).
        self.configured_key: str = getattr(environment.parsed_options, "api_key", "") or ""
        self.model = self.settings.model
        self.started_wall: float | None = None
        self.started_perf = 0.0
        self.stopped_perf: float | None = None
        self.reactor: StreamReactor | None = None
        self.users: dict[int, int] = {}  # time-series window key -> users running
        self.stages: list[Stage] = []
        self.request_log: RequestLog | None = None
        self.interrupted = False  # stopped by Ctrl-C / SIGTERM rather than by its end
        self.arrivals: ArrivalClock | None = None  # open-loop scenarios only
        self.role: Role  # chosen once by `attach`, right after this
        self.server_metrics = ServerMetrics()  # server-metrics hook: --server-metrics scrapes
        self.token_fit: TokenFit | None = None  # token-exact prompts (--tokenizer)
        self.dataset: CountedDataset | None = None  # dataset filters by real counts
        self.warmup = Warmup()
        self.reset_at = 0.0  # epoch s of the last "Reset stats" here: calls sent before it
        # Extra per-request observers (the capacity search): add(rec), sending(epoch_s),
        # extend_summary(summary).
        self.observers: list[Any] = []

    def add(self, rec: RequestRecord) -> None:
        """Account one finished call (the users' single entry point); a warm-up call, or
        one sent before a "Reset stats", goes to the time series only."""
        if rec.started_at < self.reset_at:
            self.book.add_before_reset(rec)
        elif self.warmup.enabled and self.warmup.takes(rec):
            self.book.add_warmup(rec, self.warmup.until)
        else:
            self.book.add(rec)
        if self.request_log is not None:
            self.request_log.add(rec)
        for observer in self.observers:
            observer.add(rec)

    def reset_stats(self, at: float) -> None:
        """Locust's "Reset stats" (or the master's word of it) at `at` (epoch s, this
        process's clock): the summary counts calls sent from then on; earlier ones, in flight
        too, stay in the time series and in `--llm-requests` rows."""
        self.reset_at = at
        self.book.reset_stats(at)

    def sending(self, started_at: float) -> None:
        """A call goes out; `started_at` (epoch s) is its record's `started_at`."""
        for observer in self.observers:
            observer.sending(started_at)

    def arrival_sent(self, at: float, sent_at: float) -> None:
        """An open-loop request intended for `at` went out at `sent_at` (perf_counter s)."""
        if self.arrivals is not None:
            self.arrivals.sent(at, sent_at)

    # -- a test starts ---------------------------------------------------------------
    def start_test(self, worker: str | None) -> None:
        """Fresh settings and numbers; `worker` (a worker's client id) buffers log rows."""
        env = self.environment
        self.settings = resolve_settings(
            env.parsed_options, env.host or "", self.configured_key, on_error=log_scenario_error
        )
        self.book.reset()
        self.book.slo = self.settings.slo
        self.started_wall = time.time()
        self.started_perf = time.perf_counter()
        self.warmup = Warmup(*self.settings.warmup)
        self.warmup.start(self.started_wall)
        self.stopped_perf = None
        self.reset_at = 0.0
        self.interrupted = False
        self.users.clear()
        self.stages = scenario_stages(self.settings.scenario)
        self._open_request_log(worker)

    def _open_request_log(self, worker: str | None) -> None:
        if self.request_log is not None:
            self.request_log.close()
        path = self.settings.llm_requests
        if not path:
            self.request_log = None
            return
        self.request_log = RequestLog(path, worker=worker, slo=self.settings.slo)
        if worker is None:
            self.request_log.open()

    def start_sending(self, worker_index: int, share: tuple[int, int]) -> None:
        """On a process that sends requests: the model, the reactor, the arrival clock."""
        self.model = self.settings.model or discover_model(self.settings)
        self.token_fit = (
            prepare_fit(self.settings, self.model) if wants_fit(self.settings) else None
        )
        self.dataset = count_dataset(self.settings, self.model)
        if self.reactor is not None:
            self.reactor.close()
            self.reactor = None
        if self.settings.stream_reader == "reactor":
            self.reactor = StreamReactor(idle_timeout_s=self.settings.request_timeout_s)
        self.arrivals = None
        scenario = self.settings.scenario
        if scenario is None or not (scenario.load.open_loop or scenario.trace):
            return
        run_time = getattr(self.environment.parsed_options, "run_time", None)
        self.arrivals = ArrivalClock(
            scenario.load,
            self.book,
            run_time_s=float(run_time) if run_time else None,
            seed=f"{scenario.seed}:{worker_index}",
            users=scenario.load.users,
            schedule=trace_schedule(scenario),
        )
        self.arrivals.set_share(*share)

    def tokenizer(self) -> dict[str, Any] | None:
        """This sending process's `tokenizer` summary object (None on a master)."""
        return tokenizer_summary(self.token_fit, self.dataset)

    def dialogues(self) -> list[Dialogue] | None:
        """The dataset's conversations selected by real counts, if any (else the scenario's)."""
        return self.dataset.selection.dialogues if self.dataset is not None else None

    def note_users(self, window: int | None = None) -> None:
        """The users running now, for time-series `window` (the current one by default)."""
        key = self.book.series.key(time.time()) if window is None else window
        self.users[key] = self.environment.runner.user_count

    def stage_of(self, epoch_s: float) -> int | None:
        """The index of the scenario stage running at `epoch_s`, or None."""
        return stage_index(self.stages, epoch_s - (self.started_wall or epoch_s))

    # -- results ---------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        end = self.stopped_perf if self.stopped_perf is not None else time.perf_counter()
        return max(0.0, end - self.started_perf) if self.started_wall else 0.0

    def summary(self) -> Summary:
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
        for name, metrics in summary["by_model"].items():
            add_api(metrics, self.settings.api_of(name), self.settings.batch, self.duration_s)
        self.role.extend(summary)  # `workers_lost`
        if (tokenizer := self.tokenizer()) is not None:
            summary["tokenizer"] = tokenizer
        if self.request_log is not None:
            summary["requests_log"] = self.request_log.summary()
        if "arrivals" in summary and self.settings.scenario is not None:
            load = self.settings.scenario.load
            summary["arrivals"]["arrival"] = load.arrival
            summary["arrivals"]["rate_per_s"] = load.rate
            if (trace := self.settings.scenario.trace) is not None:
                summary["arrivals"]["arrival"] = "trace"
                summary["arrivals"]["time_scale"] = trace.time_scale
        self.server_metrics.add_to(summary, self.started_wall or 0.0)  # server-metrics hook
        for observer in self.observers:
            observer.extend_summary(summary)
        return evaluate(list(self.settings.thresholds), summary)

    def finish(self, show: bool = True) -> Summary:
        """Write `--llm-requests` rows; hand the summary to the output sink."""
        if self.request_log is not None:
            self.request_log.flush(self.stage_of)
        summary = self.summary()
        if self.settings.thresholds:  # thresholds, not Locust's failure count, decide
            self.environment.process_exit_code = 0 if summary["passed"] else THRESHOLDS_FAILED
        if self.outputs is not None:
            settings = self.settings
            self.outputs.write(
                summary, json_path=settings.llm_json, html_path=settings.llm_html, show=show
            )
        return summary


def scenario_stages(scenario: Scenario | None) -> list[Stage]:
    """`stages` of summary.json: each load stage's index, start (s) and a label."""
    stages: list[Stage] = []
    start = 0.0
    for index, stage in enumerate(scenario.load.stages or () if scenario else ()):
        label = f"{stage.users} users (+{stage.spawn_rate:g}/s)"
        stages.append({"index": index, "start_s": start, "label": label})
        start += stage.duration_s
    return stages


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


def attach(environment: Any, outputs: OutputSink | None = None) -> LLMRun:
    """Create the environment's `LLMRun`, choose its role and wire every listener
    (idempotent); `outputs` receives the summary when a test ends."""
    existing = getattr(environment, "llm_load", None)
    if existing is not None:
        return existing
    role_type = role_for(environment.runner)
    try:
        run = LLMRun(environment, outputs, lenient=role_type.lenient_settings)
    except (ThresholdError, ScenarioError, SLOError, HeaderError, WarmupError) as error:
        print(f"llm-load: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    environment.llm_load = run
    # gevent's loop keeps the time it last looked at; one that has not run since start-up
    # would fire Locust's `-t` timer at once when start-up took longer than the run time.
    gevent.get_hub().loop.update_now()
    run.role = role_type(run)
    run.role.wire(environment.events, environment.runner)
    # Users and their connections live for the whole test: move them out of the cyclic GC's
    # reach, so full collections (tens of ms at hundreds of streams) stop pausing the clock.
    environment.events.spawning_complete.add_listener(lambda **_: gc.freeze())
    attach_web_ui(environment, run)
    attach_server_metrics(environment, run)  # server-metrics hook: starts the scraper
    attach_prometheus(environment)  # /metrics: web UI, --prometheus-port (observability)
    attach_otel(environment)  # with Locust's --otel: our instruments, GenAI names
    sigterm_as_ctrl_c(environment)  # before Locust's own handler exists (headless shapes)
    return run
