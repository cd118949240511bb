"""`ToolUser` and `run_tool_task`: tool-call traffic graded per request, with a tool loop.

A *tool task* sends one case of a tool dataset (`llm_load.core.tools.cases`) with its
`tools` and `tool_choice`; the first response's tool calls are graded against the case's
expectation (`llm_load.core.tools.grading.grade`) and counted per model. While the reply
carries tool calls and turns remain (`--tool-turns`), the assistant message with its
`tool_calls` and one `tool` message per call (the case's canned result) are appended and
the conversation is sent again; each turn is a Locust request of its own (`tools MODEL
turn N`) and a task whose every turn succeeded adds its whole duration to `task_ms`.
"""

from __future__ import annotations

from locust import task
from locust.exception import StopUser
from locust.runners import WorkerRunner

import itertools
import logging
import random
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import Any

from llm_load.core.scenario.schema import ScenarioError
from llm_load.core.tools.cases import ToolCase, load_tool_cases, tool_result
from llm_load.core.tools.grading import grade
from llm_load.locust.user import LLMUser

__all__ = ["DEFAULT_TOOL_CASES", "ToolUser", "run_tool_task", "shipped_tool_cases"]

log = logging.getLogger("llm_load")
DEFAULT_TOOL_CASES = "tools_basic.jsonl"
_CACHE = "_llm_load_tool_cases"
_SEQ = "_llm_load_tool_user_seq"


def shipped_tool_cases() -> Path:
    """The shipped dataset: inside the wheel, or under the repository's `scenarios/data`."""
    package = Path(__file__).resolve().parent.parent
    for root in (package / "scenarios", package.parent / "scenarios"):
        path = root / "data" / DEFAULT_TOOL_CASES
        if path.is_file():
            return path
    raise FileNotFoundError(f"scenarios/data/{DEFAULT_TOOL_CASES} not found next to {package}")


def run_tool_task(
    user: LLMUser,
    case: ToolCase,
    *,
    turns: int,
    model: str | None = None,
    scheduled_at: float | None = None,
    **request: Any,
) -> bool:
    """Run one tool task (see module doc); True when every turn succeeded. An open loop's
    `scheduled_at` applies to the first turn (the task's arrival)."""
    model = model or user.llm.model
    messages = list(case.messages)
    extra = {**(request.pop("extra", None) or {}), "tools": case.tools}
    extra["tool_choice"] = case.tool_choice
    grader = partial(_grade, case)
    t0 = min(perf_counter(), scheduled_at or float("inf"))
    for turn in range(1, turns + 1):
        record = user.chat_completion(
            messages,
            model=model,
            extra=extra,
            grade=grader if turn == 1 else None,
            name=f"tools {model} turn {turn}",
            scheduled_at=scheduled_at if turn == 1 else None,
            **request,
        )
        reply = user.last_response
        if not record.ok or reply is None:
            return False
        calls = reply.tool_calls
        if not calls or turn == turns:
            break
        messages = [*messages, _assistant(reply.content, calls), *_results(case, calls)]
        if case.tool_choice not in ("auto", "none"):  # forced choice would loop forever
            extra["tool_choice"] = "auto"
    user.llm.book.add_task(model, (perf_counter() - t0) * 1000.0)
    return True


def _grade(case: ToolCase, chat: Any) -> str:
    return grade(case.expect, chat.tool_calls, chat.content)


def _assistant(content: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "assistant", "content": content or None, "tool_calls": calls}


def _results(case: ToolCase, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"role": "tool", "tool_call_id": call.get("id") or "", "content": tool_result(case, call)}
        for call in calls
    ]


def tool_cases(environment: Any, path: str) -> list[ToolCase] | None:
    """The dataset at `path` (default: the shipped one), loaded once per process; None
    (after one logged error) when it cannot be loaded."""
    cache = environment.__dict__.setdefault(_CACHE, {})
    if path not in cache:
        try:
            cache[path] = load_tool_cases(path or shipped_tool_cases())
        except (ScenarioError, FileNotFoundError) as error:
            log.error("--tool-cases cannot be used, no requests will be sent:\n%s", error)
            cache[path] = None
    return cache[path]


class ToolUser(LLMUser):
    """Sends the `--tool-cases` dataset's cases in a seeded random order, graded."""

    abstract = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.cases = tool_cases(environment, self.llm.settings.tool_cases)
        runner = environment.runner
        worker = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        seq = environment.__dict__.setdefault(_SEQ, itertools.count())
        self.rng = random.Random(f"tools:{worker}:{next(seq)}")

    def on_start(self) -> None:
        if self.cases:
            super().on_start()

    @task
    def tool_task(self) -> None:
        if not self.cases:  # the error was logged when the dataset failed to load
            raise StopUser()
        run_tool_task(self, self.rng.choice(self.cases), turns=self.llm.settings.tool_turns)


ToolUser.tasks = [ToolUser.tool_task]  # not LLMUser's chat task as well
