"""The capacity search inside one Locust run: `CapacityShape` and the per-process probe.

`install_capacity()` (in `locustfiles/capacity.py`) gives every process a `CapacityProbe`,
an observer of the run's `LLMRun`: it bins each request by its send time (`SendBins`).
Workers ship their bins with each report to the master (key `llm_load_capacity`, with the
worker's clock at shipping time) and start afresh; the master adds them to the step whose
window sent them (`StepWindows`), and knows every send up to the oldest of its workers'
latest reports. A local runner adds its own bins at each tick.

`CapacityShape` (on the local runner or the master) runs the scenario's `capacity:` block
with `CapacityRun`: each tick (about once a second) it advances the search and returns the
users to hold. Mode users: the step's load is the user count. Mode rate: users stay at the
scenario's `load.users` (the most requests in flight) and the step's rate goes to the
arrival clocks (workers: message `llm_load_capacity_rate`; the master splits it as for any
open loop). A line per decided step and the answer are printed; the summary gets
`capacity`; the exit code is 3 when the answer is below `expect`, 1 when the search could
not finish (e.g. `-t` ran out), else 0.
"""

from __future__ import annotations

from locust import LoadTestShape
from locust.runners import STATE_MISSING, WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner

import logging
import time
from typing import Any

from llm_load.core.capacity.run import CapacityRun
from llm_load.core.capacity.spec import CapacitySpec
from llm_load.core.capacity.steps import SendBins
from llm_load.core.capacity.text import capacity_line, load_text, step_line
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.slo import SLO
from llm_load.locust.capacity_webui import attach_capacity_ui
from llm_load.locust.run import llm_run

__all__ = ["CapacityProbe", "CapacityShape", "capacity_probe", "install_capacity"]

log = logging.getLogger("llm_load")
REPORT_KEY = "llm_load_capacity"
RATE_MESSAGE = "llm_load_capacity_rate"
RATE_RESEND_TICKS = 5
BELOW_EXPECTATION, INCOMPLETE = 3, 1


class CapacityProbe:
    """One process's side of the capacity search (see module doc)."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.bins = SendBins()
        self.spec: CapacitySpec | None = None
        self.slo: SLO | None = None
        self.search: CapacityRun | None = None
        self.reported: dict[str, float] = {}  # worker -> its clock at its latest report
        self.rate: float | None = None  # mode rate: the step's req/s
        self._ticks = 0
        self._shown = 0
        self._load_spec()

    def _load_spec(self) -> None:
        scenario = llm_run(self.environment).settings.scenario
        self.spec = scenario.capacity if scenario is not None else None
        self.slo = self.spec.request_slo() if self.spec is not None else None

    # -- LLMRun observer ---------------------------------------------------------------
    def add(self, rec: RequestRecord) -> None:
        if self.spec is not None:
            self.bins.add(rec, good=self.slo.met(rec) if self.slo else rec.ok)

    def sending(self, started_at: float) -> None:
        if self.spec is not None:
            self.bins.sent(started_at)

    def extend_summary(self, summary: dict[str, Any]) -> None:
        if self.search is not None:
            summary["capacity"] = self.search.summary(time.time())

    def state(self) -> dict[str, Any] | None:
        """The search so far, for the web UI (None before it starts)."""
        search = self.search
        if search is None or self.spec is None:
            return None
        capacity, step = search.summary(time.time()), search.current
        if search.finished:
            phase, answer = "done", capacity_line(capacity)
        else:
            phase = f"step {step.number}: {step.phase.value}" if step else "-"
            answer = f"confirmed so far: {load_text(capacity['value'], self.spec.unit)}"
        return {
            "unit": self.spec.unit,
            "phase": phase,
            "current_load": step.load if step else None,
            "answer": answer,
            "steps": capacity["steps"],
        }

    # -- events ------------------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        self._load_spec()  # a worker has the master's --scenario only now
        self.bins.take()
        if self.search is not None and (self.search.steps or self.search.finished):
            self.search, self._shown, self.rate = None, 0, None  # a new test: a new search
        self._apply_rate()

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY] = {"at": time.time(), "bins": SendBins.to_wire(self.bins.take())}

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        payload = data.get(REPORT_KEY)
        if payload is None:
            return
        self.reported[client_id] = max(self.reported.get(client_id, 0.0), float(payload["at"]))
        if self.search is not None:
            self.search.windows.add(SendBins.from_wire(payload["bins"]))

    def on_rate(self, msg: Any, **_: Any) -> None:
        """Worker: the master's rate for the current step."""
        self.rate = float(msg.data["rate"])
        self._apply_rate()

    def _apply_rate(self) -> None:
        clock = llm_run(self.environment).arrivals
        if clock is not None and self.rate is not None:
            clock.set_rate(self.rate)

    def on_stopped(self, **_: Any) -> None:
        """After the summary is written: the exit code the capacity answer decides."""
        if self.search is None:
            return
        capacity = self.search.summary(time.time())
        if capacity["met_expectation"] is False:
            self.environment.process_exit_code = BELOW_EXPECTATION
        elif not capacity["complete"]:
            self.environment.process_exit_code = INCOMPLETE
        elif self.environment.process_exit_code != BELOW_EXPECTATION:  # a failed threshold
            self.environment.process_exit_code = 0

    # -- the search (local runner or master) -------------------------------------------
    def tick(self, runner: Any, elapsed_s: float) -> tuple[int, float] | None:
        """The shape's decision: (users, spawn rate), or None when the search is over."""
        spec = self.spec
        if spec is None:
            log.error("capacity: the scenario has no capacity: block; nothing to search")
            return None
        now = time.time()
        if self.search is None:
            self.search = CapacityRun(spec, now)
        if not isinstance(runner, MasterRunner):
            self.search.windows.add(self.bins.take())
        run_time = getattr(self.environment.parsed_options, "run_time", None)
        if run_time and elapsed_s >= float(run_time):
            log.warning("capacity: run time over, the search stops unfinished")
            self._end()
            return None
        load = self.search.advance(now, self._ready(runner), self._known(runner, now),
                                   self._drain_timeout_s())  # fmt: skip
        self._show_steps()
        if load is None:
            self._end()
            return None
        return self._hold(runner, load)

    def _ready(self, runner: Any) -> bool:
        step = self.search.current if self.search is not None else None
        if step is None or self.spec is None or self.spec.mode == "rate":
            return True
        return int(runner.user_count) == int(step.load)

    def _known(self, runner: Any, now: float) -> float:
        """Every send up to this epoch time has reached us."""
        if not isinstance(runner, MasterRunner):
            return now
        live = [c.id for c in runner.clients.values() if c.state != STATE_MISSING]
        return min((self.reported.get(c, 0.0) for c in live), default=0.0)

    def _drain_timeout_s(self) -> float:
        return llm_run(self.environment).settings.request_timeout_s + WORKER_REPORT_INTERVAL + 2

    def _hold(self, runner: Any, load: float) -> tuple[int, float]:
        assert self.spec is not None
        if self.spec.mode == "users":
            users = int(load)
            return users, float(max(1, users))
        self._ticks += 1
        if load != self.rate or self._ticks % RATE_RESEND_TICKS == 0:
            self.rate = load
            if isinstance(runner, MasterRunner):
                runner.send_message(RATE_MESSAGE, {"rate": load})
            else:
                self._apply_rate()
        scenario = llm_run(self.environment).settings.scenario
        users = scenario.load.users if scenario is not None else 1
        return users, float(users)

    def _show_steps(self) -> None:
        assert self.search is not None and self.spec is not None
        for step in self.search.steps[self._shown :]:
            print(step_line(step, self.spec.unit), flush=True)
        self._shown = len(self.search.steps)

    def _end(self) -> None:
        assert self.search is not None
        print(capacity_line(self.search.summary(time.time())), flush=True)


def capacity_probe(environment: Any) -> CapacityProbe:
    probe = getattr(environment, "llm_capacity", None)
    if probe is None:
        raise RuntimeError("call llm_load.locust.capacity.install_capacity() in your locustfile")
    return probe


def _attach(environment: Any) -> None:
    if getattr(environment, "llm_capacity", None) is not None:
        return
    probe = environment.llm_capacity = CapacityProbe(environment)
    llm_run(environment).observers.append(probe)
    events = environment.events
    events.test_start.add_listener(probe.on_test_start)
    events.report_to_master.add_listener(probe.on_report_to_master)
    events.worker_report.add_listener(probe.on_worker_report)
    # After LLMRun's own listeners (registered first): its summary and exit code come first.
    events.test_stop.add_listener(probe.on_stopped)
    events.quitting.add_listener(probe.on_stopped)
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(RATE_MESSAGE, probe.on_rate)
    attach_capacity_ui(environment, probe)


_MARK = "_llm_load_capacity_installed"


def install_capacity(events: Any = None) -> None:
    """Give every process of the run a `CapacityProbe` (after `llm_load.locust.install()`)."""
    import locust

    events = events if events is not None else locust.events
    if getattr(events, _MARK, False):
        return
    events.init.add_listener(lambda environment, **_: _attach(environment))
    setattr(events, _MARK, True)


class CapacityShape(LoadTestShape):
    """Runs the scenario's `capacity:` search (see module doc); declare a concrete subclass."""

    abstract = True

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        return capacity_probe(self.runner.environment).tick(self.runner, self.get_run_time())
