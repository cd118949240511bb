"""A SIGTERM to a headless run with a load shape stops the test as Ctrl-C does.

Locust (2.47) installs its SIGTERM handler only after a headless run's shape has finished
(`start_automatic_run` joins the shape greenlet first), so until then a SIGTERM (docker
stop, a CI timeout, `llm-load run` passing one on) killed the process: no summary, exit
-15. Every scenario run has a shape (`ScenarioShape`). `sigterm_as_ctrl_c` raises
KeyboardInterrupt instead, which Locust handles there (the test stops, the summary is written,
marked interrupted); Locust's own handler replaces this one once it is installed.
"""

from __future__ import annotations

from locust.runners import WorkerRunner

import signal
from typing import Any

__all__ = ["sigterm_as_ctrl_c"]


def sigterm_as_ctrl_c(environment: Any) -> None:
    """On a headless local or master run with a shape class (called at `init`, in the main
    thread)."""
    options = environment.parsed_options
    if options is None or not getattr(options, "headless", False):
        return
    if environment.shape_class is None or isinstance(environment.runner, WorkerRunner):
        return

    def interrupt(signum: int, frame: Any) -> None:
        run = getattr(environment, "llm_load", None)
        if run is not None:  # the summary says so (Locust stops the test before quitting)
            run.interrupted = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
