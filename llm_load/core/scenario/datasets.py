"""Conversation datasets for `prompts.dataset`: ShareGPT JSON and OpenAI-messages JSONL.

ShareGPT: a JSON list of `{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}`
(the format of the ShareGPT dumps vLLM's and SGLang's benchmarks read). OpenAI messages:
one `{"messages": [{"role", "content"}, ...]}` per line. Each conversation gives one prompt:
its messages up to the first user turn (system messages kept); the assistant reply after it,
when there is one, is the reference answer the output-length filters look at (the replay
is single-turn: the model's own replies are what get timed). Filters and the sample are
applied when the scenario is loaded, with lengths estimated at ~4 characters a token
(`read_dataset`). With a tokenizer, a sending process selects again with real counts
(`select_counted`, given a `Count`): each entry counted once (its prompt's message contents
joined and, for output filters, its reference reply; the special tokens a tokenizer adds to
any text, such as BOS, taken off: the empty text's count), in a seeded random order, until
`sample` entries pass or `count_limit` entries were counted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_load.core.scenario.errors import ScenarioError

__all__ = ["ROLES", "DatasetCount", "Example", "has_filters", "read_dataset", "select_counted"]

ROLES = {
    **dict.fromkeys(("human", "user"), "user"),
    **dict.fromkeys(("gpt", "assistant", "chatgpt", "bing", "bard"), "assistant"),
    "system": "system",
}
CHARS_PER_TOKEN = 4
Example = tuple[list[dict[str, str]], str]  # (prompt messages, reference reply or "")


Conversations = list[list[dict[str, str]]]


@dataclass(frozen=True, slots=True)
class DatasetCount:
    """A selection with real token counts: the entries, how many were counted (each once),
    how many passed, and whether `count_limit` stopped the counting."""

    conversations: Conversations
    entries: int
    counted: int
    limited: bool

    def public(self) -> dict[str, Any]:
        """As shown in the summary's `tokenizer.dataset`."""
        return {
            "entries": self.entries,
            "counted": self.counted,
            "kept": len(self.conversations),
            "limited": self.limited,
        }


def read_dataset(scenario_path: Path, spec: Any) -> tuple[list[Example], Conversations]:
    """(every example, the prompts of `spec`, filtered on estimates and sampled): see the
    module doc; `spec` is a `Dataset`."""
    where = f"{scenario_path}: prompts.dataset"
    path = (scenario_path.parent / spec.file).resolve()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{where}: cannot read {path}: {error}") from None
    kind = spec.format if spec.format != "auto" else _guess(path, text)
    examples = _sharegpt(text, f"{where}: {path}") if kind == "sharegpt" else _messages(text)
    kept = [m for m, ref in examples if _wanted(spec, m, ref, _tokens)]
    if spec.sample is not None and spec.sample < len(kept):
        kept = random.Random(spec.seed).sample(kept, spec.sample)
    if not kept:
        raise ScenarioError(f"{where}: no conversation of {path} passes the filters")
    return examples, kept


def select_counted(examples: list[Example], spec: Any, count: Callable[[str], int]) -> DatasetCount:
    """The prompts passing `spec`'s filters by `count` (see the module doc)."""
    base = count("")  # the special tokens of any text (BOS)
    order = list(range(len(examples)))
    random.Random(spec.seed).shuffle(order)
    kept: Conversations = []
    counted = 0
    for index in order:
        if spec.sample is not None and len(kept) >= spec.sample:
            break
        if counted >= spec.count_limit:
            break
        counted += 1
        messages, reference = examples[index]
        if _wanted(spec, messages, reference, lambda text: count(text) - base):
            kept.append(messages)
    limited = counted == spec.count_limit < len(examples) and (
        spec.sample is None or len(kept) < spec.sample
    )
    return DatasetCount(kept, len(examples), counted, limited)


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


def _wanted(
    spec: Any, messages: list[dict[str, str]], reference: str, tokens: Callable[[str], int]
) -> bool:
    """Whether an example passes the length filters; `tokens` counts only what a filter
    needs (the prompt's message contents, the reference reply)."""
    low, high = spec.min_input_tokens, spec.max_input_tokens
    if (low or high) and not _within(tokens("".join(m["content"] for m in messages)), low, high):
        return False
    low, high = spec.min_output_tokens, spec.max_output_tokens
    return not (low or high) or _within(tokens(reference) if reference else 0, low, high)


def _first_turn(messages: list[dict[str, str]]) -> Example | None:
    """Messages up to the first user turn and the assistant reply after it."""
    for index, msg in enumerate(messages):
        if msg["role"] == "user":
            after = messages[index + 1 : index + 2]
            reply = after[0]["content"] if after and after[0]["role"] == "assistant" else ""
            prompt = [m for m in messages[:index] if m["role"] == "system"] + [msg]
            return prompt, reply
    return None


def _sharegpt(text: str, where: str) -> list[Example]:
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
        if (example := _first_turn(messages)) is not None:
            out.append(example)
    return out


def _messages(text: str) -> list[Example]:
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
        if (example := _first_turn(messages)) is not None:
            out.append(example)
    return out
