"""Prompt datasets for `prompts.file`: JSONL, or CSV when the name ends in `.csv`.

A JSONL line is `{"messages": [...]}` or `{"prompt": "..."}`. A CSV file has a header row
naming its columns: `prompt` (required, one user message) and `system` (optional, a system
message before it). Other keys and columns are ignored, but `model`, `max_tokens` and
`temperature` are refused in both (no per-prompt overrides: they belong to the `models`
entries, and ignoring them would mislead). Both give conversations as lists of
`{"role", "content"}` dicts and raise `ScenarioError` naming the file, the line (JSONL) or
the row (CSV, the header is row 1, blank rows skipped) and the column. Files are UTF-8, a
byte order mark is allowed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_load.core.scenario.errors import ScenarioError

__all__ = ["Message", "read_prompt_file"]

Conversations = list[list[dict[str, str]]]
CSV_COLUMNS = ("prompt", "system")
OVERRIDES = ("model", "max_tokens", "temperature")  # refused: they belong to `models`
CSV_FIELD_LIMIT = 1 << 30  # characters per cell: long-context prompts, not the stdlib 128 Ki


class Message(BaseModel):
    """One chat message of a prompt."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant", "tool"]
    content: str


def read_prompt_file(scenario_path: Path, file: str) -> Conversations:
    """The conversations of a JSONL or CSV file named relative to the scenario file."""
    where = f"{scenario_path}: prompts.file"
    data_path = (scenario_path.parent / file).resolve()
    try:
        text = data_path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ScenarioError(f"{where}: cannot read {data_path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ScenarioError(
            f"{where}: {data_path}: not UTF-8 text (byte {error.start}: {error.reason}); "
            "save it as UTF-8"
        ) from None
    if data_path.suffix.lower() == ".csv":
        out = _csv_conversations(text, f"{where}: {data_path}")
    else:
        out = _jsonl_conversations(text, f"{where}: {data_path}")
    if not out:
        raise ScenarioError(f"{where}: {data_path} has no prompts")
    return out


# -- JSONL ----------------------------------------------------------------------------------
class _Line(BaseModel):
    """One JSONL line: `{"messages": [...]}` or `{"prompt": "..."}` (other keys ignored)."""

    model_config = ConfigDict(extra="ignore")
    messages: list[Message] | None = Field(default=None, min_length=1)
    prompt: str | None = None


def _jsonl_conversations(text: str, where: str) -> Conversations:
    return [
        _parse_line(line, f"{where} line {number}")
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


def _parse_line(line: str, where: str) -> list[dict[str, str]]:
    expected = 'expected {"messages": [{"role": ..., "content": ...}]} or {"prompt": "..."}'
    try:
        data = json.loads(line)
        for key in OVERRIDES:
            if isinstance(data, dict) and key in data:
                raise ScenarioError(
                    f"{where}: key {key!r}: no per-prompt {key}; set it on the models entry"
                )
        parsed = _Line.model_validate(data)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{where}: invalid JSON: {error.msg} (column {error.colno})") from None
    except ValidationError as error:
        first = error.errors()[0]
        raise ScenarioError(f"{where}: {expected}: {first['msg']}") from None
    if parsed.messages is not None:
        return [m.model_dump() for m in parsed.messages]
    if parsed.prompt is not None:
        return [{"role": "user", "content": parsed.prompt}]
    raise ScenarioError(f"{where}: {expected}")


# -- CSV ------------------------------------------------------------------------------------
@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """The csv module's per-cell limit raised while one file is read (it is global)."""
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_conversations(text: str, where: str) -> Conversations:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: _Header | None = None
    out: Conversations = []
    row = 0  # rows counted as a spreadsheet shows them: the header is row 1, blank rows count
    with _field_limit(max(CSV_FIELD_LIMIT, csv.field_size_limit())):
        try:
            for row, cells in enumerate(reader, 1):
                if header is None:
                    header = _csv_header(cells, f"{where}:1")
                elif any(cell.strip() for cell in cells):
                    out.append(_csv_row(cells, header, f"{where}:{row}"))
        except csv.Error as error:
            raise ScenarioError(f"{where}:{row + 1}: invalid CSV: {error}") from None
    if header is None:
        raise ScenarioError(f"{where}: empty; expected a header row naming a 'prompt' column")
    return out


class _Header(NamedTuple):
    prompt: int  # column indexes
    system: int | None
    width: int  # cells in the header row


def _csv_header(cells: list[str], where: str) -> _Header:
    names = [cell.strip().lower() for cell in cells]
    if not any(names):
        raise ScenarioError(
            f"{where}: expected a header row naming a 'prompt' column (got a blank row)"
        )
    for name in names:
        if name in OVERRIDES:
            raise ScenarioError(
                f"{where}: column {name!r}: no per-prompt {name}; set it on the models entry "
                "(or rename the column: other columns are ignored)"
            )
        if name in CSV_COLUMNS and names.count(name) > 1:
            raise ScenarioError(f"{where}: column {name!r}: named twice in the header")
    if "prompt" not in names:
        got = ", ".join(repr(cell) for cell in cells)
        raise ScenarioError(
            f"{where}: no 'prompt' column; expected a header row with 'prompt' and optionally "
            f"'system' (got {got})"
        )
    system = names.index("system") if "system" in names else None
    return _Header(names.index("prompt"), system, len(cells))


def _csv_row(cells: list[str], header: _Header, where: str) -> list[dict[str, str]]:
    if len(cells) > header.width:
        raise ScenarioError(
            f"{where}: {len(cells)} cells but the header names {header.width} columns "
            "(a comma in an unquoted cell? put the cell in double quotes)"
        )
    prompt = _cell(cells, header.prompt)
    if not prompt.strip():
        raise ScenarioError(f"{where}: column 'prompt': empty; every row needs a prompt")
    system = _cell(cells, header.system)
    messages = [{"role": "system", "content": system}] if system.strip() else []
    return [*messages, {"role": "user", "content": prompt}]


def _cell(cells: list[str], index: int | None) -> str:
    """The cell at `index`, "" when absent (spreadsheets drop a row's trailing blank cells)."""
    return cells[index] if index is not None and index < len(cells) else ""
