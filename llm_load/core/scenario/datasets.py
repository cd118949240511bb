"""Conversation datasets for `prompts.dataset`: ShareGPT JSON and OpenAI-messages JSONL.

ShareGPT: a JSON list of `{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}`
(the format of the ShareGPT dumps vLLM's and SGLang's benchmarks read). OpenAI messages:
one `{"messages": [{"role", "content"}, ...]}` per line. Each conversation gives one prompt:
its messages up to the first user turn (system messages kept); the assistant reply after it,
when there is one, is the reference answer the output-length filters look at (the replay
is single-turn: the model's own replies are what get timed). Filters and the sample are
applied when the scenario is loaded, with lengths estimated at ~4 characters a token.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from llm_load.core.scenario.errors import ScenarioError

__all__ = ["ROLES", "Example", "read_dataset"]

ROLES = {
    **dict.fromkeys(("human", "user"), "user"),
    **dict.fromkeys(("gpt", "assistant", "chatgpt", "bing", "bard"), "assistant"),
    "system": "system",
}
CHARS_PER_TOKEN = 4
Example = tuple[list[dict[str, str]], str]  # (prompt messages, reference reply or "")


def read_dataset(scenario_path: Path, spec: Any) -> list[list[dict[str, str]]]:
    """The prompts of `spec` (a `Dataset`), filtered and sampled (see the module doc)."""
    where = f"{scenario_path}: prompts.dataset"
    path = (scenario_path.parent / spec.file).resolve()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{where}: cannot read {path}: {error}") from None
    kind = spec.format if spec.format != "auto" else _guess(path, text)
    examples = _sharegpt(text, f"{where}: {path}") if kind == "sharegpt" else _messages(text)
    kept = [m for m, ref in examples if _wanted(spec, m, ref)]
    if spec.sample is not None and spec.sample < len(kept):
        kept = random.Random(spec.seed).sample(kept, spec.sample)
    if not kept:
        raise ScenarioError(f"{where}: no conversation of {path} passes the filters")
    return kept


def _guess(path: Path, text: str) -> str:
    return "sharegpt" if path.suffix.lower() == ".json" or text.lstrip()[:1] == "[" else "messages"


def _tokens(text: str) -> int:
    return round(len(text) / CHARS_PER_TOKEN)


def _wanted(spec: Any, messages: list[dict[str, str]], reference: str) -> bool:
    n_in = _tokens("".join(m["content"] for m in messages))
    n_out = _tokens(reference)
    return (
        n_in >= (spec.min_input_tokens or 0)
        and n_in <= (spec.max_input_tokens or n_in)
        and n_out >= (spec.min_output_tokens or 0)
        and n_out <= (spec.max_output_tokens or n_out)
    )


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
