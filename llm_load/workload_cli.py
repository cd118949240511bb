"""`llm-load run`'s workload flags: a scenario made from the command line.

`llm-load run -H URL --input-tokens 300 --output-tokens 50 --exact-output` (or `--dataset`,
`--trace`, `--prefix-tokens`, `--multi-turn`, ...) builds a scenario from the flags
(`llm_load.core.scenario.flags`: target from -H, load from -u/-r/-t, the model from
`--model`, else the first one `GET /v1/models` lists); given a scenario, the flags replace
its keys. `workload_scenario` writes the result to a temporary file (data paths made
absolute), validates it with the scenario schema like any file and yields its path for
`--scenario` (local `--processes` workers read the same file); the file is removed when the
run ends. `--print-scenario` prints the YAML instead, to save and edit as a scenario file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from llm_load.core.metrics.warmup import parse_warmup
from llm_load.core.scenario.flags import (
    BUILD_FLAGS,
    FLAG_KEYS,
    apply_flags,
    flag_hints,
    flag_problems,
    parse_dist,
    parse_range,
    parse_turns,
)
from llm_load.core.scenario.schema import Scenario, ScenarioError, load_scenario

__all__ = [
    "add_workload_arguments",
    "build_scenario",
    "locust_passthrough",
    "print_scenario",
    "scenario_yaml",
    "wants_scenario",
    "workload_scenario",
]

# Locust options of ours that `run` reads too: passed on to Locust unchanged.
PASSTHROUGH = ("model", "tokenizer", "exact_output", "warmup")
# Paths a scenario names relative to itself: made absolute in the temporary copy.
_DATA_PATHS = (("prompts", "file"), ("prompts", "dataset", "file"), ("tools", "cases"),
               ("trace", "file"))  # fmt: skip


def _checked(parse: Callable[[str], Any]) -> Callable[[str], str]:
    """An argparse type that checks the text with `parse` and keeps the text (the flag's
    value is parsed again where it becomes a scenario key)."""

    def check(text: str) -> str:
        try:
            parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    return check


_dist, _range, _warmup = _checked(parse_dist), _checked(parse_range), _checked(parse_warmup)


def _turns(text: str) -> int:
    try:
        return parse_turns(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N (>= 1) or all") from None


# dest -> (metavar, type, help); the flag and its scenario key are in FLAG_KEYS.
_ARGS: dict[str, tuple[str | None, Any, str]] = {
    "input_tokens": ("N|LO-HI", _dist, "synthetic prompts of N tokens (uniform LO-HI)"),
    "output_tokens": ("N|LO-HI", _dist, "max_tokens per request, N or uniform LO-HI"),
    "exact_output": (None, None, "exactly that many output tokens (ignore_eos, min_tokens)"),
    "tokenizer": ("server|PATH|usage|estimate", str, "how prompts are sized to exact tokens"),
    "warmup": ("30s|2m|N", _warmup, "left out of the summary's totals"),
    "dataset": ("FILE", str, "ShareGPT JSON or OpenAI-messages JSONL conversations"),
    "dataset_sample": ("N", int, "draw N conversations"),
    "dataset_input_tokens": (
        "MIN-MAX",
        _range,
        "keep conversations whose prompt has MIN to MAX tokens (MIN- or -MAX)",
    ),
    "dataset_output_tokens": ("MIN-MAX", _range, "the same for their first reply"),
    "multi_turn": ("N|all", _turns, "conversations of N requests (all: a dataset's turns)"),
    "replies": ("model|dataset", str, "whose assistant replies the history carries"),
    "prefix_tokens": ("P", int, "shared tokens per group"),
    "prefix_groups": ("K", int, "shared prefixes (1)"),
    "trace": ("FILE", str, "Mooncake JSONL (or CSV) replayed open-loop"),
    "time_scale": ("X", float, "send at timestamp x X (1)"),
    "block_tokens": ("N", int, "tokens per hash_id (512)"),
    "seed": ("N", int, "seeds every draw"),
    "model": ("MODEL", str, "model id (default: the scenario's, else the first served)"),
}


def add_workload_arguments(parser: argparse.ArgumentParser) -> None:
    """The workload flags; each help names the scenario key it sets."""
    group = parser.add_argument_group(
        "workload",
        "Without a scenario these build one (llm-load run -H URL --input-tokens 300); with "
        "one they replace its keys (the key each sets is in brackets; docs/workloads.md). "
        "--exact-output, --tokenizer, --warmup and --model alone apply to the chat user",
    )
    for dest, (metavar, kind, text) in _ARGS.items():
        flag, key = FLAG_KEYS[dest]
        more: dict[str, Any] = {"metavar": metavar, "type": kind}
        if dest == "exact_output":
            more = {"action": "store_true"}
        elif dest == "replies":
            more["choices"] = ("model", "dataset")
        group.add_argument(flag, dest=dest, help=f"{text} [{key}]", **more)
    group.add_argument(
        "--print-scenario", action="store_true", help="print the scenario (YAML) and exit"
    )


def wants_scenario(args: argparse.Namespace) -> bool:
    """Whether the flags make (or change) a scenario: any workload flag, or `--model` over
    a scenario, or `--print-scenario`."""
    given = [d for d in (*BUILD_FLAGS, "model") if getattr(args, d, None) is not None]
    if args.scenario is None:
        given = [d for d in given if d != "model"]
    return bool(given) or args.print_scenario


def locust_passthrough(args: argparse.Namespace) -> list[str]:
    """`--model`, `--tokenizer`, `--exact-output`, `--warmup` as given: Locust options too."""
    out: list[str] = []
    for dest in PASSTHROUGH:
        value, flag = getattr(args, dest, None), FLAG_KEYS[dest][0]
        if value is True:
            out.append(flag)
        elif value not in (None, False):
            out += [flag, str(value)]
    return out


def build_scenario(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    """The scenario mapping from the flags over the scenario file (if any); `ScenarioError`
    for flags that cannot go together or a scenario file that does not load."""
    base = None
    if args.scenario is not None:
        load_scenario(args.scenario)  # every problem of the file itself, first
        path = Path(args.scenario).resolve()
        base = _absolute(yaml.safe_load(path.read_text(encoding="utf-8")), path.parent)
    values: dict[str, Any] = {dest: getattr(args, dest, None) for dest in FLAG_KEYS}
    for dest in ("dataset", "trace"):  # relative to the working directory, as given
        if values[dest]:
            values[dest] = str(Path(values[dest]).resolve())
    if problems := flag_problems(values, base):
        raise ScenarioError("flags: " + "; ".join(problems))
    if base is None and not values["model"]:
        values["model"] = _served_model(args.host, extra)
    return apply_flags(values, base)


def _absolute(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    for keys in _DATA_PATHS:
        part: Any = data
        for key in keys[:-1]:
            part = part.get(key) if isinstance(part, dict) else None
        if isinstance(part, dict) and isinstance(part.get(keys[-1]), str):
            part[keys[-1]] = str((folder / part[keys[-1]]).resolve())
    return data


def _served_model(host: str | None, extra: list[str]) -> str:
    """The first id `GET /v1/models` lists (with --api-key or the env's key)."""
    import requests

    from llm_load.core.wire.endpoint import api_base, model_ids
    from llm_load.plain_http import describe_error, new_session

    if not host:
        raise ScenarioError("flags: give --model NAME (or -H URL to ask the server)")
    key = _option(extra, "--api-key") or os.environ.get("LLM_LOAD_API_KEY")
    key = key or os.environ.get("OPENAI_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = api_base(host) + "/models"
    try:
        resp = new_session().get(url, headers=headers, timeout=10)
        resp.raise_for_status()
        ids = model_ids(resp.content)
    except (requests.RequestException, ValueError) as error:
        why = describe_error(error, 10) if isinstance(error, requests.RequestException) else error
        raise ScenarioError(f"flags: GET {url}: {why}; give --model NAME") from None
    if not ids:
        raise ScenarioError(f"flags: GET {url} lists no model; give --model NAME")
    return ids[0]


def _option(argv: list[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


@contextmanager
def workload_scenario(data: dict[str, Any]) -> Iterator[str]:
    """`data` written to a temporary scenario file and validated (`ScenarioError` with
    every problem); yields its path, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="llm-load-run-") as tmp:
        path = Path(tmp) / f"{data.get('name') or 'scenario'}.yaml"
        path.write_text(scenario_yaml(data), encoding="utf-8")
        try:
            load_scenario(path)
        except ScenarioError as error:
            message = str(error).replace(str(path), "(from flags)")
            hints = flag_hints(message)
            raise ScenarioError(message + (f"\n(flags: {hints})" if hints else "")) from None
        yield str(path)


def scenario_yaml(data: dict[str, Any]) -> str:
    """YAML with the keys in the schema's order (name, ..., models, prompts, ..., load)."""
    order = list(Scenario.model_fields)
    ordered = dict(sorted(data.items(), key=lambda kv: _rank(order, kv[0])))
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None)


def _rank(order: list[str], key: str) -> int:
    return order.index(key) if key in order else len(order)


def print_scenario(data: dict[str, Any]) -> int:
    """Print the YAML after validating it (0), or the problems (2)."""
    try:
        with workload_scenario(data):
            pass
    except ScenarioError as error:
        print(f"INVALID: {error}", file=sys.stderr)
        return 2
    print(scenario_yaml(data), end="")
    return 0
