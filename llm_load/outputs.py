"""Where a finished run's summary goes: `--llm-json`, `--llm-html` and the console table.

`RunOutputs` is the output sink `llm_load.locust.install()` hands to each run (the Locust
layer builds the summary and never imports the renderers in `llm_load.report`). Files are
written atomically (temp file + rename), so a reader never sees half a file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from llm_load.core.metrics.summary import Summary, write_summary
from llm_load.core.metrics.summary_types import plain
from llm_load.report.console import print_summary

__all__ = ["RunOutputs", "write_html_report"]

log = logging.getLogger("llm_load")


class RunOutputs:
    """Writes the summary JSON and the HTML report (each when given a path) and prints
    the table."""

    def write(self, summary: Summary, *, json_path: str, html_path: str, show: bool) -> None:
        if json_path:
            write_summary(summary, json_path)
            log.info("LLM summary written to %s", json_path)
        if html_path:
            write_html_report(summary, html_path)
        if show:
            print_summary(plain(summary))


def write_html_report(summary: Summary, path: str) -> None:
    """`--llm-html`: the self-contained HTML report, written atomically."""
    from llm_load.report.html import render_html

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_html(plain(summary)), encoding="utf-8")
    os.replace(tmp, target)
    log.info("LLM HTML report written to %s", path)
