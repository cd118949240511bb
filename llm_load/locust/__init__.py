"""llm-load's Locust layer: options, the abstract `LLMUser`, `ToolUser` and `ScenarioUser`, the
scenario's load shape and the run's listeners.

Call `install()` once in a locustfile (it is explicit and safe to call twice); nothing
registers itself on import.
"""

from __future__ import annotations

import locust

from typing import Any

from llm_load.locust.options import add_arguments
from llm_load.locust.run import LLMRun, OutputSink, attach, llm_run
from llm_load.locust.scenario import ScenarioShape, ScenarioUser
from llm_load.locust.tools import ToolUser
from llm_load.locust.user import LLMUser
from llm_load.locust.wire import apply_patches

__all__ = [
    "LLMRun",
    "LLMUser",
    "OutputSink",
    "ScenarioShape",
    "ScenarioUser",
    "ToolUser",
    "attach",
    "install",
    "llm_run",
]

_MARK = "_llm_load_installed"


def install(events: Any = None, outputs: OutputSink | None = None) -> None:
    """Register llm-load's options and listeners on Locust's `events` (idempotent).

    `outputs` receives each finished test's summary; by default `llm_load.outputs.RunOutputs`
    (`--llm-json`, `--llm-html`, the console table). This is the one place the Locust layer
    names it: the run itself only knows the `OutputSink` protocol."""
    events = events if events is not None else locust.events
    if getattr(events, _MARK, False):
        return
    if outputs is None:
        from llm_load.outputs import RunOutputs

        outputs = RunOutputs()
    apply_patches()  # raises at start on a geventhttpclient it was not written for
    events.init_command_line_parser.add_listener(add_arguments)
    events.init.add_listener(lambda environment, **_: attach(environment, outputs))
    setattr(events, _MARK, True)
