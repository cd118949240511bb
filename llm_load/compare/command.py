"""The `llm-load compare` command line: flags, and the exit code of a run.

Flags keep the seed tester's names (`-e/--endpoint`, `-m/--models`, `-p/--prompt`,
`--passes`, `--temperature`, `--max-tokens`, `-d/--debug`, `-c/--config-file`,
`-pm/--parallel-models`, `-pr/--parallel-requests`) and add llm-load's (`-H/--host` as an
alias of `--endpoint`, `--api-key`, `--timeout`, `--no-stream`, `--llm-json`). Every flag
defaults to None ("not given") so that `resolve_config` can apply flags > env > config file
> defaults. Bad settings exit with code 2 and one clear message, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llm_load.compare.config import FIELDS, ConfigError, resolve_config
from llm_load.core.wire.protocols import API_NAMES

__all__ = ["USAGE_ERROR", "add_arguments", "main"]

USAGE_ERROR = 2
EPILOG = (
    "precedence: flags > environment (LLM_LOAD_HOST, then OPENAI_BASE_URL; LLM_LOAD_API_KEY, "
    "then OPENAI_API_KEY; LLM_LOAD_PASSES, LLM_LOAD_TEMPERATURE, ...) > config file "
    "(./config.json when present) > defaults. Exit codes: 0 every request succeeded, 1 some "
    "failed, 2 bad flags or configuration. See docs/compare.md."
)


def _type(name: str) -> Callable[[str], Any]:
    """argparse `type=` from the field's own parser (same rules as env and file values)."""
    parse = next(spec.parse for spec in FIELDS if spec.name == name)

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = name  # argparse names the type in "invalid <name> value" messages
    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The compare flags; defaults are None so that env and the config file can apply."""
    add = parser.add_argument
    add(
        "-e",
        "--endpoint",
        "-H",
        "--host",
        dest="endpoint",
        metavar="URL",
        help="API base URL, with or without /v1 (env LLM_LOAD_HOST, OPENAI_BASE_URL; "
        "config api.endpoint)",
    )
    add(
        "--api-key",
        metavar="KEY",
        help="bearer token, never printed (env LLM_LOAD_API_KEY, OPENAI_API_KEY; config api.token)",
    )
    add(
        "-c",
        "--config-file",
        metavar="PATH",
        help="JSON or YAML config file (default: ./config.json when present)",
    )
    add(
        "-m",
        "--models",
        type=_type("models"),
        metavar="A,B",
        help="comma-separated model ids (default: every model of GET /models)",
    )
    add("-p", "--prompt", help="the user prompt sent to every model")
    add("--passes", type=_type("passes"), metavar="N", help="requests per model (1)")
    add("--temperature", type=_type("temperature"), metavar="T", help="temperature (0.7)")
    add("--max-tokens", type=_type("max_tokens"), metavar="N", help="max_tokens (1024)")
    add(
        "--timeout",
        dest="timeout_s",
        type=_type("timeout_s"),
        metavar="S",
        help="seconds without a byte from the server before a request fails (30)",
    )
    add(
        "-pm",
        "--parallel-models",
        type=_type("parallel_models"),
        metavar="N",
        help="models tested at the same time (1)",
    )
    add(
        "-pr",
        "--parallel-requests",
        type=_type("parallel_requests"),
        metavar="N",
        help="requests in flight at the same time for each model (1)",
    )
    add(
        "--api",
        choices=API_NAMES,
        help="the API every model is asked with (chat; env LLM_LOAD_API; docs/apis.md)",
    )
    add(
        "--no-stream",
        action="store_const",
        const=True,
        default=None,
        help="non-streaming requests (no TTFT then)",
    )
    add(
        "-d",
        "--debug",
        action="store_true",
        help="show each request and response: URL, headers (key redacted), bodies, errors",
    )
    add("--llm-json", metavar="PATH", help="write the run summary (summary.json schema)")
    parser.epilog = EPILOG


def main(
    args: argparse.Namespace, environ: Mapping[str, str] = os.environ, cwd: str | Path = "."
) -> int:
    """Resolve the settings (exit 2 when unusable), then run the comparison."""
    try:
        config = resolve_config(vars(args), environ, cwd)
    except ConfigError as error:
        print(f"llm-load compare: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    from llm_load.compare.runner import run_compare  # imports Locust: gevent patches here

    return run_compare(config)
