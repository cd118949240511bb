"""The run summary (`summary.json`, schema `llm-load/summary/v1`) built from a book.

Scripts and CI read this file: keep its names stable and extend, never rename.
`settings` must already be redacted by the caller (no API key may reach it).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llm_load.core.metrics import MetricsBook

__all__ = ["SCHEMA", "build_summary", "write_summary"]

SCHEMA = "llm-load/summary/v1"


def build_summary(
    book: MetricsBook,
    *,
    started_at: float,
    duration_s: float,
    target: str,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The summary dict; `started_at` is epoch seconds, rates are per `duration_s`."""
    return {
        "schema": SCHEMA,
        "started_at": datetime.fromtimestamp(started_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(duration_s, 3),
        "target": target,
        "settings": settings,
        "totals": book.totals().summary(duration_s),
        "by_model": {name: m.summary(duration_s) for name, m in sorted(book.by_model.items())},
        "errors": book.error_list(),
        "thresholds": [],
        "passed": True,
    }


def write_summary(summary: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
