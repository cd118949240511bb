"""Trace replay: a timestamped production trace sent open-loop, request by request.

A trace file is JSONL in the Mooncake format — `{"timestamp": ms, "input_length": tokens,
"output_length": tokens, "hash_ids": [...]}` per line (`hash_ids` optional: ids of the
prompt's blocks of `block_tokens` tokens; equal ids are equal blocks, i.e. a shared prefix)
— or CSV with the same columns (`hash_ids` space-separated). `TraceSchedule` yields each
request's intended send time, `timestamp × time_scale` seconds after the test started (the
first request at 0); with `set_share(rank, count)` a process takes every `count`-th request
from its `rank`, so workers together send each request exactly once, on its own schedule.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_load.core.scenario.errors import ScenarioError

__all__ = ["TraceEntry", "TraceSchedule", "read_trace"]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One traced request: when (s after the first), and its lengths in tokens."""

    at_s: float
    input_tokens: int
    output_tokens: int
    hash_ids: tuple[int, ...] = ()


def read_trace(scenario_path: Path, file: str) -> list[TraceEntry]:
    """The entries of a JSONL or CSV trace named relative to the scenario, in time order."""
    path = (scenario_path.parent / file).resolve()
    where = f"{scenario_path}: trace.file: {path}"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{where}: cannot read: {error}") from None
    if path.suffix.lower() == ".csv":
        rows = [dict(r) for r in csv.DictReader(io.StringIO(text))]
    else:
        rows = [_json(line, f"{where} line {n}") for n, line in enumerate(text.splitlines(), 1)]
    entries = [_entry(row, f"{where} entry {n}") for n, row in enumerate(rows, 1) if row]
    if not entries:
        raise ScenarioError(f"{where}: no requests")
    first = min(e.at_s for e in entries)
    return sorted(
        (TraceEntry(e.at_s - first, e.input_tokens, e.output_tokens, e.hash_ids) for e in entries),
        key=lambda e: e.at_s,
    )


def _json(line: str, where: str) -> dict[str, Any]:
    if not line.strip():
        return {}
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{where}: invalid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected an object")
    return data


def _entry(row: dict[str, Any], where: str) -> TraceEntry:
    try:
        ids = row.get("hash_ids") or ()
        hash_ids = tuple(int(i) for i in (ids.split() if isinstance(ids, str) else ids))
        entry = TraceEntry(
            float(row["timestamp"]) / 1000.0,
            int(row["input_length"]),
            int(row["output_length"]),
            hash_ids,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ScenarioError(
            f"{where}: expected timestamp (ms), input_length, output_length and optional "
            f"hash_ids ({type(error).__name__}: {error})"
        ) from None
    if entry.input_tokens < 1 or entry.output_tokens < 1:
        raise ScenarioError(f"{where}: input_length and output_length must be >= 1")
    return entry


class TraceSchedule:
    """Intended send times of one process's share of a trace (the `ArrivalSchedule`
    interface); `last` is the request of the time `next()` returned last."""

    def __init__(self, entries: list[TraceEntry], time_scale: float = 1.0) -> None:
        self.entries = entries
        self.time_scale = time_scale
        self.rank, self.count = 0, 1
        self.index = 0  # next entry of the whole trace to consider
        self.last: TraceEntry | None = None

    def set_share(self, rank: int, count: int) -> None:
        self.rank, self.count = rank, max(1, count)

    def next(self) -> float | None:
        while self.index < len(self.entries):
            index = self.index
            self.index += 1
            if index % self.count == self.rank:
                self.last = self.entries[index]
                return self.last.at_s * self.time_scale
        return None
