"""`llm-load capacity`: find the most users (or requests/s) an endpoint serves within its SLOs.

The workload is a scenario: the one given, or one built from `--model`, `--prompt` and
`--max-tokens`. The flags fill in (over) its `capacity:` block; the result is written as a
complete scenario to a temporary directory (prompt and tool files made absolute) and run with
`python -m locust -f locustfiles/capacity.py --headless` (`--processes N` for local workers;
other options go to Locust unchanged). Locust prints a line per step and the answer; the
summary gets `capacity`. Exit codes: 0 done, 1 the search could not finish, 2 bad input,
3 the capacity is below `--expect`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from llm_load.core.scenario.schema import ScenarioError, load_scenario

__all__ = ["add_capacity_arguments", "capacity_scenario", "run_capacity"]

INVALID = 2
DEFAULT_PROMPT = "Write a short story about a robot who learns to paint."
RATE_IN_FLIGHT = 64
# Flag -> key of the capacity block (None: not given, the scenario's or the default holds).
CAPACITY_FLAGS = (
    "mode", "slo", "goodput", "max_error_rate", "min", "max", "resolution", "step_s",
    "max_step_s", "min_requests", "settle_s", "confidence", "expect",
)  # fmt: skip


def add_capacity_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("scenario", nargs="?", metavar="SCENARIO.yaml", help="the workload (default: --prompt)")
    add("-H", "--host", default=None, help="target URL (scenario target.host)")
    add("--model", default=None, help="model id (default: the scenario's, else the first served)")
    add("--prompt", default=DEFAULT_PROMPT, help="prompt without a scenario")
    add("--max-tokens", type=int, default=128, help="max_tokens without a scenario (128)")
    add("--slo", action="append", default=None, metavar="EXPR",
        help="limit, repeatable: 'ttft_ms.p99 <= 500' (percentile) or 'tpot_ms <= 50' "
        "(per request, for --goodput)")  # fmt: skip
    add("--goodput", type=float, default=None, help="floor on the share of requests within "
        "every per-request limit, e.g. 0.95")  # fmt: skip
    add("--max-error-rate", type=float, default=None, help="error ceiling per step (0.01)")
    add("--mode", choices=("users", "rate"), default=None, help="users (default) or rate (req/s)")
    add("--min", type=float, default=None, help="first load (1)")
    add("--max", type=float, default=None, help="never above this load (256)")
    add("--resolution", type=float, default=None, help="1 user / 0.5 req/s")
    add("--step-s", type=float, default=None, help="least measuring time of a step, s (10)")
    add("--max-step-s", type=float, default=None, help="most measuring time of a step, s (120)")
    add("--min-requests", type=int, default=None, help="least requests of a step (50)")
    add("--settle-s", type=float, default=None, help="settling time before measuring, s (2)")
    add("--confidence", type=float, default=None, help="of a step's verdict (0.95)")
    add("--expect", type=float, default=None, help="exit 3 when the capacity is below this")
    in_flight = f"mode rate: the most requests in flight (load.users, else {RATE_IN_FLIGHT})"
    add("-u", "--users", type=int, default=None, help=in_flight)
    add("-t", "--run-time", default=None, help="stop the search after this long (e.g. 10m)")
    add("--llm-json", default=None, help="write the run summary (with capacity) to this path")
    add("--processes", type=int, default=None, help="Locust worker processes (-1: one per core)")
    add("--web", action="store_true", help="open Locust's web UI instead of running headless")


def _base_scenario(args: argparse.Namespace) -> tuple[dict[str, Any], Path | None]:
    """The scenario's raw mapping (paths made absolute), or one built from the flags."""
    if args.scenario is None:
        model = args.model or _served_model(args.host)
        data = {
            "name": "capacity",
            "models": [{"name": model, "max_tokens": args.max_tokens}],
            "prompts": {"inline": [args.prompt]},
        }
        return data, None
    path = Path(args.scenario).resolve()
    load_scenario(path)  # every problem of the file itself, first
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    prompts, tools = data.get("prompts") or {}, data.get("tools") or {}
    if prompts.get("file"):
        prompts["file"] = str(path.parent / prompts["file"])
    if tools.get("cases"):
        tools["cases"] = str(path.parent / tools["cases"])
    return data, path


def capacity_scenario(args: argparse.Namespace) -> dict[str, Any]:
    """The scenario to run: the base one with the flags over its `capacity:` block."""
    data, _ = _base_scenario(args)
    capacity = dict(data.get("capacity") or {})
    capacity.update({k: getattr(args, k) for k in CAPACITY_FLAGS if getattr(args, k) is not None})
    data["capacity"] = capacity
    if args.model and args.scenario is not None:
        data["models"] = [m for m in data["models"] if m["name"] == args.model] or [
            {"name": args.model}
        ]
    if capacity.get("mode") == "rate":
        load = dict(data.get("load") or {})
        load.pop("stages", None)
        load.pop("think_time_s", None)
        load["rate"] = load.get("rate") or capacity.get("min") or 1
        load["users"] = args.users or load.get("users", RATE_IN_FLIGHT)
        data["load"] = load
    return data


def _served_model(host: str | None) -> str:
    """The first id of `GET /v1/models` (llama.cpp serves one model under any name)."""
    import requests

    from llm_load.core.wire.endpoint import api_base

    if not host:
        return "default"
    key = os.environ.get("LLM_LOAD_API_KEY") or os.environ.get("OPENAI_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        resp = requests.get(api_base(host) + "/models", headers=headers, timeout=10)
        return str(resp.json()["data"][0]["id"])
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError):
        return "default"


def _locust_command(args: argparse.Namespace, scenario: Path, locustfile: Path, summary: str,
                    host: str, extra: list[str]) -> list[str]:  # fmt: skip
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--scenario", str(scenario)]
    cmd += ["-H", host, "--llm-json", summary, "--only-summary", "--loglevel", "WARNING"]
    if not args.web:
        cmd.append("--headless")
    if args.run_time:
        cmd += ["-t", args.run_time]
    if args.processes:
        cmd += ["--processes", str(args.processes)]
    return cmd + extra


def run_capacity(args: argparse.Namespace, locustfile: Path, extra: list[str]) -> int:
    """Build the scenario, run Locust with it and return its exit code (see module doc)."""
    try:
        data = capacity_scenario(args)
        host = args.host or (data.get("target") or {}).get("host")
        if not host:
            raise ScenarioError("no target: give -H URL (or the scenario's target.host)")
    except ScenarioError as error:
        print(f"INVALID: {error}", file=sys.stderr)
        return INVALID
    with tempfile.TemporaryDirectory(prefix="llm-load-capacity-") as tmp:
        path = Path(tmp) / "capacity.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        try:
            load_scenario(path)
        except ScenarioError as error:
            print(f"INVALID: {error}", file=sys.stderr)
            return INVALID
        summary = args.llm_json or str(Path(tmp) / "summary.json")
        cmd = _locust_command(args, path, locustfile, summary, host, extra)
        return _wait(subprocess.Popen(cmd))


def _wait(proc: subprocess.Popen[bytes]) -> int:
    """Locust's exit code; a SIGTERM for us goes on to it (it then writes its summary)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
