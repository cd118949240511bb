"""Per-request rows for `--llm-requests PATH.jsonl`: one JSON object per LLM call.

`request_row(record)` turns a `RequestRecord` into the plain dict written as one line:
`ts` (epoch s when sent), `model`, `status` (`ok` / `failed` / `cancelled`), `error_kind`,
`error_message` (at most 300 characters), `ttft_ms`, `e2e_ms`, `itl_ms_mean`, `itl_ms_max`,
`input_tokens`, `output_tokens`, `usage_estimated`, `finish_reason`, `tool_grade`, and
`good` (whether the call met the SLO) when the run has one, `requested_input_tokens` when
the prompt was written to a token count, `cached_tokens` when the server reported them,
`turn` (1-based) for a turn of a multi-turn conversation.
The Locust layer adds `worker` and `stage`. `RowBuffer` holds rows between writes with a
hard cap: rows beyond it are counted as dropped, never kept, so memory stays bounded.
"""

from __future__ import annotations

from typing import Any

from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.slo import SLO

__all__ = ["MAX_MESSAGE_CHARS", "RowBuffer", "request_row"]

MAX_MESSAGE_CHARS = 300


def request_row(rec: RequestRecord, slo: SLO | None = None) -> dict[str, Any]:
    """The JSONL row of one call; times in ms rounded to 0.001; `good` only with an `slo`."""
    itl = rec.itl_ms
    status = "cancelled" if rec.cancelled else ("ok" if rec.ok else "failed")
    message = rec.error_message
    row = {
        "ts": round(rec.started_at, 6),
        "model": rec.model,
        "status": status,
        "error_kind": rec.error_kind,
        "error_message": message[:MAX_MESSAGE_CHARS] if message else None,
        "ttft_ms": _ms(rec.ttft_ms),
        "e2e_ms": _ms(rec.e2e_ms),
        "itl_ms_mean": _ms(rec.itl_ms_mean),
        "itl_ms_max": _ms(max(itl)) if itl else None,
        "input_tokens": rec.input_tokens,
        "output_tokens": rec.output_tokens,
        "usage_estimated": not rec.usage_reported,
        "finish_reason": rec.finish_reason,
        "tool_grade": rec.tool_grade,
    }
    if rec.requested_input_tokens is not None:
        row["requested_input_tokens"] = rec.requested_input_tokens
    if rec.cached_tokens is not None:
        row["cached_tokens"] = rec.cached_tokens
    if rec.turn is not None:
        row["turn"] = rec.turn
    if slo is not None:
        row["good"] = slo.met(rec)
    return row


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class RowBuffer:
    """Rows waiting to be written or shipped; at most `cap` of them, the rest counted."""

    __slots__ = ("cap", "dropped", "rows")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.rows: list[dict[str, Any]] = []
        self.dropped = 0

    def append(self, row: dict[str, Any]) -> None:
        if len(self.rows) < self.cap:
            self.rows.append(row)
        else:
            self.dropped += 1

    def drain(self) -> tuple[list[dict[str, Any]], int]:
        """The rows and the dropped count so far; the buffer starts empty again."""
        rows, dropped = self.rows, self.dropped
        self.rows, self.dropped = [], 0
        return rows, dropped
