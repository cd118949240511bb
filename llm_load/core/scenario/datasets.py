"""Conversation datasets for `prompts.dataset`: ShareGPT JSON and OpenAI-messages JSONL.

ShareGPT: a JSON list of `{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}`
(the format of the ShareGPT dumps vLLM's and SGLang's benchmarks read). OpenAI messages:
one `{"messages": [{"role", "content"}, ...]}` per line. Each conversation becomes a
`Dialogue`: its system messages (before the first user turn) and its user turns, each with
the assistant reply recorded after it. A single-turn replay sends `opening()` (the system
messages and the first user turn); `multi_turn:` replays the later turns in order
(`core.scenario.sampling.Conversation`). The first reply is the reference answer the
output-length filters look at. Filters (on the first turn) and the sample are applied when
the scenario is loaded, with lengths estimated at ~4 characters a token (`read_dataset`).
With a tokenizer, a sending process selects again with real counts (`select_counted`, given
a `Count`): each conversation counted once (its opening's message contents joined and, for
output filters, its first reply; the special tokens a tokenizer adds to any text, such as
BOS, taken off: the empty text's count), in a seeded random order, until `sample`
conversations pass or `count_limit` were counted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_load.core.scenario.errors import ScenarioError

__all__ = ["ROLES", "DatasetCount", "Dialogue", "has_filters", "read_dataset", "select_counted"]

ROLES = {
    **dict.fromkeys(("human", "user"), "user"),
    **dict.fromkeys(("gpt", "assistant", "chatgpt", "bing", "bard"), "assistant"),
    "system": "system",
}
CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class Dialogue:
    """One dataset conversation: `system` messages, then `turns` of (user message, the
    assistant reply recorded after it, "" when there is none)."""

    system: tuple[dict[str, str], ...]
    turns: tuple[tuple[str, str], ...]

    def opening(self) -> list[dict[str, str]]:
        """The messages of its first request: the system messages and the first user turn."""
        return [*(dict(m) for m in self.system), {"role": "user", "content": self.turns[0][0]}]


@dataclass(frozen=True, slots=True)
class DatasetCount:
    """A selection with real token counts: the conversations kept, how many there were,
    how many were counted (each once) and whether `count_limit` stopped the counting."""

    dialogues: list[Dialogue]
    entries: int
    counted: int
    limited: bool

    def public(self) -> dict[str, Any]:
        """As shown in the summary's `tokenizer.dataset`."""
        return {
            "entries": self.entries,
            "counted": self.counted,
            "kept": len(self.dialogues),
            "limited": self.limited,
        }


def read_dataset(scenario_path: Path, spec: Any) -> tuple[list[Dialogue], list[Dialogue]]:
    """(every conversation, those of `spec` filtered on estimates and sampled): see the
    module doc; `spec` is a `Dataset`."""
    where = f"{scenario_path}: prompts.dataset"
    path = (scenario_path.parent / spec.file).resolve()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{where}: cannot read {path}: {error}") from None
    kind = spec.format if spec.format != "auto" else _guess(path, text)
    examples = _sharegpt(text, f"{where}: {path}") if kind == "sharegpt" else _messages(text)
    kept = [d for d in examples if _wanted(spec, d, _tokens)]
    if spec.sample is not None and spec.sample < len(kept):
        kept = random.Random(spec.seed).sample(kept, spec.sample)
    if not kept:
        raise ScenarioError(f"{where}: no conversation of {path} passes the filters")
    return examples, kept


def select_counted(
    dialogues: list[Dialogue], spec: Any, count: Callable[[str], int]
) -> DatasetCount:
    """The conversations passing `spec`'s filters by `count` (see the module doc)."""
    base = count("")  # the special tokens of any text (BOS)
    order = list(range(len(dialogues)))
    random.Random(spec.seed).shuffle(order)
    kept: list[Dialogue] = []
    counted = 0
    for index in order:
        if spec.sample is not None and len(kept) >= spec.sample:
            break
        if counted >= spec.count_limit:
            break
        counted += 1
        if _wanted(spec, dialogues[index], lambda text: count(text) - base):
            kept.append(dialogues[index])
    limited = counted == spec.count_limit < len(dialogues) and (
        spec.sample is None or len(kept) < spec.sample
    )
    return DatasetCount(kept, len(dialogues), counted, limited)


def has_filters(spec: Any) -> bool:
    """Whether `spec` filters on any length."""
    return any(
        getattr(spec, name) is not None
        for name in (
            "min_input_tokens",
            "max_input_tokens",
            "min_output_tokens",
            "max_output_tokens",
        )
    )


def _guess(path: Path, text: str) -> str:
    return "sharegpt" if path.suffix.lower() == ".json" or text.lstrip()[:1] == "[" else "messages"


def _tokens(text: str) -> int:
    return round(len(text) / CHARS_PER_TOKEN)


def _within(n: int, low: int | None, high: int | None) -> bool:
    return n >= (low or 0) and (high is None or n <= high)


def _wanted(spec: Any, dialogue: Dialogue, tokens: Callable[[str], int]) -> bool:
    """Whether a conversation passes the length filters (on its first turn); `tokens`
    counts only what a filter needs (the opening's message contents, the first reply)."""
    low, high = spec.min_input_tokens, spec.max_input_tokens
    opening = "".join(m["content"] for m in dialogue.opening())
    if (low or high) and not _within(tokens(opening), low, high):
        return False
    low, high = spec.min_output_tokens, spec.max_output_tokens
    reply = dialogue.turns[0][1]
    return not (low or high) or _within(tokens(reply) if reply else 0, low, high)


def _dialogue(messages: list[dict[str, str]]) -> Dialogue | None:
    """The system messages before the first user turn, then every user turn with the
    assistant messages after it joined as its reply (other roles dropped)."""
    first = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
    if first is None:
        return None
    turns: list[list[str]] = []
    for msg in messages[first:]:
        if msg["role"] == "user":
            turns.append([msg["content"], ""])
        elif msg["role"] == "assistant":
            reply = turns[-1][1]
            turns[-1][1] = f"{reply}\n{msg['content']}" if reply else msg["content"]
    system = tuple(m for m in messages[:first] if m["role"] == "system")
    return Dialogue(system, tuple((user, reply) for user, reply in turns))


def _sharegpt(text: str, where: str) -> list[Dialogue]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{where}: invalid JSON: {error.msg} (line {error.lineno})") from None
    if not isinstance(data, list):
        raise ScenarioError(f"{where}: expected a JSON list of {{'conversations': [...]}}")
    out = []
    for item in data:
        turns = item.get("conversations") if isinstance(item, dict) else None
        messages = [
            {"role": ROLES[t["from"]], "content": t["value"]}
            for t in turns or ()
            if isinstance(t, dict) and t.get("from") in ROLES and isinstance(t.get("value"), str)
        ]
        if (example := _dialogue(messages)) is not None:
            out.append(example)
    return out


def _messages(text: str) -> list[Dialogue]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line).get("messages") or []
        except (json.JSONDecodeError, AttributeError):
            continue
        messages = [
            {"role": str(m["role"]), "content": m["content"]}
            for m in raw
            if isinstance(m, dict) and isinstance(m.get("content"), str)
        ]
        if (example := _dialogue(messages)) is not None:
            out.append(example)
    return out
