"""Workload flags of `llm-load run` as scenario keys: the pure mapping, no I/O.

`FLAG_KEYS` is the table (flag -> the scenario key it sets), shown in `--help` and
docs/workloads.md. `apply_flags(values, base)` returns a scenario mapping: `base` (a
scenario file's raw mapping, data paths already made absolute) or a new one, with every
given flag over its key (-H/-u/-r/-t only in a new one: a scenario keeps its target and
load, the command line's go to Locust as ever). A prompt source flag (`--input-tokens`,
`--dataset`, `--trace`) replaces the base's source; the result is then validated by the
scenario schema like any file. `flag_problems` names the combinations of flags that
cannot work, in flag words; `flag_hints` names the flags behind the keys a schema error
mentions.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from llm_load.core.metrics.warmup import parse_warmup

__all__ = [
    "BUILD_FLAGS",
    "FLAG_KEYS",
    "apply_flags",
    "flag_hints",
    "flag_problems",
    "parse_dist",
    "parse_range",
    "parse_turns",
]

# dest -> (flag, the scenario key it sets). -H/-u/-r/-t are `run`'s own options.
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "input_tokens": ("--input-tokens", "prompts.synthetic.input_tokens"),
    "output_tokens": ("--output-tokens", "output.tokens"),
    "exact_output": ("--exact-output", "output.exact"),
    "tokenizer": ("--tokenizer", "tokenizer"),
    "warmup": ("--warmup", "warmup"),
    "dataset": ("--dataset", "prompts.dataset.file"),
    "dataset_sample": ("--dataset-sample", "prompts.dataset.sample"),
    "dataset_input_tokens": ("--dataset-input-tokens", "prompts.dataset.min/max_input_tokens"),
    "dataset_output_tokens": (
        "--dataset-output-tokens",
        "prompts.dataset.min/max_output_tokens",
    ),
    "multi_turn": ("--multi-turn", "multi_turn.turns"),
    "replies": ("--replies", "multi_turn.replies"),
    "prefix_tokens": ("--prefix-tokens", "prefix.tokens"),
    "prefix_groups": ("--prefix-groups", "prefix.groups"),
    "trace": ("--trace", "trace.file"),
    "time_scale": ("--time-scale", "trace.time_scale"),
    "block_tokens": ("--block-tokens", "trace.block_tokens"),
    "seed": ("--seed", "seed"),
    "model": ("--model", "models"),
    "host": ("-H", "target.host"),
    "users": ("-u", "load.users"),
    "spawn_rate": ("-r", "load.spawn_rate"),
    "run_time": ("-t", "load.run_time"),
}
# Any of these without a scenario builds one (the others also apply to the chat user).
BUILD_FLAGS = (
    "input_tokens", "output_tokens", "dataset", "dataset_sample", "dataset_input_tokens",
    "dataset_output_tokens", "multi_turn", "replies", "prefix_tokens", "prefix_groups",
    "trace", "time_scale", "block_tokens", "seed",
)  # fmt: skip
_SOURCES = ("input_tokens", "dataset", "trace")
# A flag that refines a part: the flag that makes the part (when the base has none).
_NEEDS = {
    "dataset_sample": ("dataset", "prompts.dataset"),
    "dataset_input_tokens": ("dataset", "prompts.dataset"),
    "dataset_output_tokens": ("dataset", "prompts.dataset"),
    "prefix_groups": ("prefix_tokens", "prefix"),
    "time_scale": ("trace", "trace"),
    "block_tokens": ("trace", "trace"),
}


def parse_dist(text: str) -> dict[str, Any]:
    """`300` -> {fixed: 300}; `64-192` -> {uniform: [64, 192]} (tokens); `ValueError` else."""
    low, dash, high = str(text).strip().partition("-")
    try:
        if not dash:
            return {"fixed": int(low)}
        return {"uniform": [int(low), int(high)]}
    except ValueError:
        raise ValueError(f"{text!r}: expected N or LO-HI tokens") from None


def parse_range(text: str) -> tuple[int | None, int | None]:
    """Dataset length filters: `100-2048` -> (100, 2048); `100-` -> (100, None); `-2048` ->
    (None, 2048) (tokens, both ends kept); `ValueError` else."""
    low, dash, high = str(text).strip().partition("-")
    try:
        bounds = (int(low) if low else None, int(high) if high else None)
    except ValueError:
        bounds = (None, None)
    if not dash or bounds == (None, None) or any(b is not None and b < 1 for b in bounds):
        raise ValueError(f"{text!r}: expected MIN-MAX, MIN- or -MAX tokens (>= 1)")
    return bounds


def parse_turns(text: str) -> int:
    """`--multi-turn`: requests per conversation, or `all` (0: every turn of each dataset
    conversation); `ValueError` else."""
    if str(text).strip().lower() == "all":
        return 0
    if (turns := int(text)) < 1:
        raise ValueError(f"{text!r}: expected a number of turns >= 1, or all")
    return turns


def _given(values: Mapping[str, Any], name: str) -> bool:
    value = values.get(name)
    return value is not None and value is not False


def flag_problems(values: Mapping[str, Any], base: Mapping[str, Any] | None) -> list[str]:
    """Combinations of flags that cannot work, in flag words (empty: none)."""
    problems = []
    sources = [FLAG_KEYS[s][0] for s in _SOURCES if _given(values, s)]
    if len(sources) > 1:
        problems.append(f"one prompt source: {' or '.join(sources)}, not both")
    base = base or {}
    has_source = sources or base.get("prompts") or base.get("trace")
    if not has_source and any(_given(values, k) for k in BUILD_FLAGS):
        problems.append("give a prompt source: --input-tokens N, --dataset FILE or --trace FILE")
    for name, (maker, key) in _NEEDS.items():
        if _given(values, name) and not _given(values, maker) and not _has(base, key):
            problems.append(f"{FLAG_KEYS[name][0]} needs {FLAG_KEYS[maker][0]}")
    if _given(values, "trace") and _given(values, "output_tokens"):
        problems.append("--output-tokens: a trace gives each request's output length")
    return problems


def flag_hints(message: str) -> str:
    """`--multi-turn = multi_turn.turns, ...` for each flag whose key `message` names."""
    named = [f"{flag} = {key}" for flag, key in FLAG_KEYS.values() if key in message]
    return ", ".join(named)


def _has(data: Mapping[str, Any], key: str) -> bool:
    for part in key.split("."):
        if not isinstance(data, Mapping) or data.get(part) is None:
            return False
        data = data[part]
    return True


def apply_flags(values: Mapping[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    """The scenario mapping: `base` (or a new `from-flags` one) with the given flags over
    their keys (see the module doc); not validated here."""
    data: dict[str, Any] = copy.deepcopy(dict(base)) if base else _new()
    _apply_source(values, data)
    _apply_output(values, data)
    _apply_parts(values, data)
    if not base:  # a scenario's own target and load stay; -H/-u/-r/-t go to Locust anyway
        _apply_run(values, data)
    return data


def _new() -> dict[str, Any]:
    return {"name": "from-flags", "description": "built by llm-load run from its flags"}


def _apply_source(values: Mapping[str, Any], data: dict[str, Any]) -> None:
    """A prompt source flag replaces the base's prompts (and trace, or tools for a trace)."""
    if _given(values, "input_tokens"):
        synthetic = (data.get("prompts") or {}).get("synthetic") or {}
        synthetic = {**synthetic, "input_tokens": parse_dist(values["input_tokens"])}
        data["prompts"] = {"synthetic": synthetic}
        data.pop("trace", None)
    if _given(values, "dataset"):
        data["prompts"] = {"dataset": {"file": str(values["dataset"])}}
        data.pop("trace", None)
    if _given(values, "dataset_sample"):
        data["prompts"]["dataset"]["sample"] = values["dataset_sample"]
    for name, side in (("dataset_input_tokens", "input"), ("dataset_output_tokens", "output")):
        if _given(values, name):
            low, high = parse_range(values[name])
            dataset = data["prompts"]["dataset"]
            dataset.pop(f"min_{side}_tokens", None)
            dataset.pop(f"max_{side}_tokens", None)
            dataset.update({f"{k}_{side}_tokens": v for k, v in (("min", low), ("max", high)) if v})
    if _given(values, "trace"):
        data.pop("prompts", None)
        data.pop("tools", None)
        data["trace"] = {**(data.get("trace") or {}), "file": str(values["trace"])}
    for name in ("time_scale", "block_tokens"):
        if _given(values, name):
            data["trace"][name] = values[name]


def _apply_output(values: Mapping[str, Any], data: dict[str, Any]) -> None:
    output = dict(data.get("output") or {})
    if _given(values, "output_tokens"):
        output["tokens"] = parse_dist(values["output_tokens"])
        synthetic = (data.get("prompts") or {}).get("synthetic")
        if synthetic:  # output.tokens replaces it (the schema takes one of them)
            synthetic.pop("output_tokens", None)
    if _given(values, "exact_output"):
        output["exact"] = True
    if output:
        data["output"] = output


def _apply_parts(values: Mapping[str, Any], data: dict[str, Any]) -> None:
    """multi_turn, prefix, tokenizer, warmup, seed and the model."""
    _apply_multi_turn(values, data)
    _apply_prefix(values, data)
    if _given(values, "tokenizer"):
        data["tokenizer"] = values["tokenizer"]
    if _given(values, "warmup"):
        seconds, requests = parse_warmup(str(values["warmup"]))
        data["warmup"] = {"duration_s": seconds} if seconds else {"requests": requests}
    if _given(values, "seed"):
        data["seed"] = values["seed"]
    if _given(values, "model"):
        kept = [m for m in data.get("models") or () if m.get("name") == values["model"]]
        data["models"] = kept or [{"name": values["model"]}]


def _apply_multi_turn(values: Mapping[str, Any], data: dict[str, Any]) -> None:
    if _given(values, "multi_turn") or _given(values, "replies"):
        multi = dict(data.get("multi_turn") or {})
        if _given(values, "multi_turn"):
            multi["turns"] = values["multi_turn"] or None  # 0: all of a dataset's turns
        if _given(values, "replies"):
            multi["replies"] = values["replies"]
        data["multi_turn"] = {k: v for k, v in multi.items() if v is not None}


def _apply_prefix(values: Mapping[str, Any], data: dict[str, Any]) -> None:
    if _given(values, "prefix_tokens") or _given(values, "prefix_groups"):
        prefix = dict(data.get("prefix") or {})
        for name, key in (("prefix_tokens", "tokens"), ("prefix_groups", "groups")):
            if _given(values, name):
                prefix[key] = values[name]
        if "groups" in prefix and len(prefix.get("weights") or ()) != prefix["groups"]:
            prefix.pop("weights", None)  # the base's weights were for its own groups
        data["prefix"] = prefix


def _apply_run(values: Mapping[str, Any], data: dict[str, Any]) -> None:
    """-H, -u, -r and -t as target.host and load."""
    if _given(values, "host"):
        data["target"] = {"host": values["host"]}
    load = {n: values[n] for n in ("users", "spawn_rate", "run_time") if _given(values, n)}
    if load:
        data["load"] = load
