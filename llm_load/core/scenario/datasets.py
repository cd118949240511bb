"""Conversation datasets for `prompts.dataset`: ShareGPT JSON and OpenAI-messages JSONL.

ShareGPT: a JSON list of `{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}`
(the format of the ShareGPT dumps vLLM's and SGLang's benchmarks read). OpenAI messages:
one `{"messages": [{"role", "content"}, ...]}` per line. Each conversation becomes a
`Dialogue`: its system messages (before the first user turn) and its user turns, each with
the assistant reply recorded after it. A single-turn replay sends `opening()` (the system
messages and the first user turn); `multi_turn:` replays the later turns in order
(`core.scenario.sampling.Conversation`). The first reply is the reference answer the
output-length filters look at. Filters (on the first turn) and the sample are applied when
the scenario is loaded, with lengths estimated at ~4 characters a token.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_load.core.scenario.errors import ScenarioError

__all__ = ["ROLES", "Dialogue", "read_dataset"]

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


def read_dataset(scenario_path: Path, spec: Any) -> list[Dialogue]:
    """The prompts of `spec` (a `Dataset`), filtered and sampled (see the module doc)."""
    where = f"{scenario_path}: prompts.dataset"
    path = (scenario_path.parent / spec.file).resolve()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{where}: cannot read {path}: {error}") from None
    kind = spec.format if spec.format != "auto" else _guess(path, text)
    examples = _sharegpt(text, f"{where}: {path}") if kind == "sharegpt" else _messages(text)
    kept = [d for d in examples if _wanted(spec, d)]
    if spec.sample is not None and spec.sample < len(kept):
        kept = random.Random(spec.seed).sample(kept, spec.sample)
    if not kept:
        raise ScenarioError(f"{where}: no conversation of {path} passes the filters")
    return kept


def _guess(path: Path, text: str) -> str:
    return "sharegpt" if path.suffix.lower() == ".json" or text.lstrip()[:1] == "[" else "messages"


def _tokens(text: str) -> int:
    return round(len(text) / CHARS_PER_TOKEN)


def _wanted(spec: Any, dialogue: Dialogue) -> bool:
    n_in = _tokens("".join(m["content"] for m in dialogue.opening()))
    n_out = _tokens(dialogue.turns[0][1])
    return (
        n_in >= (spec.min_input_tokens or 0)
        and n_in <= (spec.max_input_tokens or n_in)
        and n_out >= (spec.min_output_tokens or 0)
        and n_out <= (spec.max_output_tokens or n_out)
    )


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
