"""`ScenarioUser` and `ScenarioShape`: the Locust side of `--scenario PATH`.

The scenario is loaded with the settings at `test_start` on every process (workers get the
master's `--scenario`). A `ScenarioUser` draws each request from a seeded `Conversation`
(model by weight, prompt, multi-turn history, per-model max_tokens / temperature / extra /
api),
or with `tools:` a graded tool task (see `llm_load.locust.tools`), and waits the
scenario's think time between requests. When no scenario could be loaded the error was
logged once and each user stops at its first task: no traffic, no crash loop.

`ScenarioShape` is always declared by `locustfiles/scenario.py` with `use_common_options`,
so Locust keeps `-u/-r/-t` and the web form's fields: with `load.stages` it follows the
stages (then stops the test); without, it holds `-u` users at `-r` users/s. It also ends
the test at `-t`: Locust's headless run-time timer only starts after a shape finishes.
"""

from __future__ import annotations

from locust import LoadTestShape, task
from locust.exception import RescheduleTask, StopUser
from locust.runners import WorkerRunner

import itertools
import logging
from time import perf_counter
from typing import Any

import gevent

from llm_load.core.scenario.sampling import Conversation, Sampler
from llm_load.core.scenario.schema import Scenario
from llm_load.core.scenario.trace import TraceEntry
from llm_load.core.tools.cases import ToolCase
from llm_load.locust.run import llm_run
from llm_load.locust.tools import run_tool_task
from llm_load.locust.user import LLMUser

__all__ = ["ScenarioShape", "ScenarioUser", "shape_tick"]

log = logging.getLogger("llm_load")
_SEQ = "_llm_load_user_seq"


class ScenarioUser(LLMUser):
    """Sends the `--scenario`'s requests; declare a concrete subclass in a locustfile."""

    abstract = True

    def __init__(self, environment: Any) -> None:
        settings = llm_run(environment).settings
        if self.host is None and settings.host:
            self.host = settings.host  # the scenario's target.host when -H is not given
        super().__init__(environment)
        scenario = self.llm.settings.scenario
        self.conversation = (
            None if scenario is None else Conversation(_sampler(environment, scenario))
        )
        self._trace_entry: TraceEntry | None = None  # the traced request of the last arrival

    def on_start(self) -> None:
        if self.conversation is not None:
            super().on_start()

    def wait_time(self) -> float:
        return self.conversation.sampler.think_time_s() if self.conversation else 1.0

    @task
    def chat(self) -> None:
        if self.conversation is None:  # the error was logged when the scenario failed to load
            raise StopUser()
        at = self._arrival()
        sampler = self.conversation.sampler
        if self.conversation.turn == 0 and (case := sampler.tool_case()) is not None:
            self._tool_task(case, at)
            return
        if self._trace_entry is not None:  # trace replay: the request claimed with `at`
            request = sampler.from_trace(self._trace_entry)
        else:
            request = self.conversation.next_request()
        record = self.chat_completion(
            request.messages,
            model=request.model,
            extra=request.extra or None,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            scheduled_at=at,
            input_tokens=request.input_tokens,
            api=self.llm.settings.api_of(request.model),
            turn=request.turn,
        )
        # Only a history of the model's own replies needs the reply text.
        conversation, ok = self.conversation, record.ok
        reply = self.last_response if ok and conversation.needs_reply else None
        conversation.reply((reply.content if reply is not None else "") if ok else None)

    def _arrival(self) -> float | None:
        """Open loop: claim the next arrival and sleep until it is due (None: closed loop)."""
        clock = self.llm.arrivals
        if clock is None:
            return None
        at = clock.claim()
        self._trace_entry = getattr(clock.schedule, "last", None)  # before any other claim
        if at is None:  # the schedule is over: idle until the shape ends the test
            gevent.sleep(1.0)
            raise RescheduleTask()
        delay = at - perf_counter()
        if delay > 0 and clock.wait(delay):  # the rate changed: this arrival was of the old one
            raise RescheduleTask()
        return at

    def _tool_task(self, case: ToolCase, at: float | None) -> None:
        sampler = self.conversation.sampler if self.conversation else None
        assert sampler is not None and sampler.scenario.tools is not None
        spec = sampler.model()
        run_tool_task(
            self,
            case,
            turns=sampler.scenario.tools.turns,
            model=spec.name,
            extra=spec.extra or None,
            max_tokens=sampler.max_tokens(spec),
            temperature=spec.temperature,
            scheduled_at=at,
            api=self.llm.settings.api_of(spec.name),
        )


# Locust adds a base class's tasks to a subclass's own: keep only the scenario's task.
ScenarioUser.tasks = [ScenarioUser.chat]


def _sampler(environment: Any, scenario: Scenario) -> Sampler:
    """A reproducible per-user sampler: seeded by scenario seed, worker index, user number."""
    runner = environment.runner
    worker = runner.worker_index if isinstance(runner, WorkerRunner) else 0
    seq = environment.__dict__.setdefault(_SEQ, itertools.count())
    run = llm_run(environment)
    seed = f"{scenario.seed}:{worker}:{next(seq)}"
    return Sampler(scenario, seed=seed, fit=run.token_fit, dialogues=run.dialogues())


def shape_tick(
    scenario: Scenario | None, elapsed_s: float, users: Any, rate: Any, run_time_s: Any = None
) -> Any:
    """The shape's decision: None once `run_time_s` (Locust's -t, s) is over, else the stage
    at `elapsed_s`, else the given (or the scenario's) users and spawn rate."""
    if run_time_s and elapsed_s >= float(run_time_s):
        return None
    if scenario is not None and scenario.load.stages:
        return scenario.load.stage_at(elapsed_s)
    load = scenario.load if scenario is not None else None
    users = int(users) if users else (load.users if load else 1)
    rate = float(rate) if rate else (load.spawn_rate if load else 1.0)
    return users, rate


class ScenarioShape(LoadTestShape):
    """Stages from the scenario, or Locust's -u/-r when it has none (see module doc)."""

    abstract = True
    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        env = self.runner.environment
        options = env.parsed_options
        return shape_tick(
            llm_run(env).settings.scenario,
            self.get_run_time(),
            getattr(options, "num_users", None),
            getattr(options, "spawn_rate", None),
            getattr(options, "run_time", None),
        )
