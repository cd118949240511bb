"""`llm-load validate` and `llm-load run`: check scenario files, launch Locust with one.

`validate` prints `OK: FILE (summary)` or every problem of each file (exit 0, or 2 when any
file is invalid). `run` validates, then runs `python -m locust -f locustfiles/scenario.py
--scenario PATH` with `-H`, `-u`, `-r` and `-t` taken from the scenario unless given on the
command line; other options after the scenario and everything after `--` go to Locust
unchanged, and a SIGTERM is passed on to it.
Its exit code is Locust's (0 pass, 1 failed requests, 2 usage error, 3 thresholds failed).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from llm_load.core.scenario.schema import Scenario, ScenarioError, load_scenario

__all__ = ["add_run_arguments", "locust_command", "run_scenario", "validate_files"]

INVALID = 2


def validate_files(paths: list[str]) -> int:
    """Print each file's verdict; 0 when all are valid, else 2."""
    code = 0
    for path in paths:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            print(f"INVALID: {path}\n{error}", file=sys.stderr)
            code = INVALID
            continue
        print(f"OK: {path} ({scenario.name}: {scenario.summary()})")
    return code


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO.yaml", help="the scenario file")
    parser.add_argument("--headless", action="store_true", help="no web UI: run and exit")
    parser.add_argument("-H", "--host", default=None, help="target URL (scenario target.host)")
    parser.add_argument("-u", "--users", type=int, default=None, help="users (scenario)")
    parser.add_argument("-r", "--spawn-rate", type=float, default=None, help="users/s (scenario)")
    parser.add_argument("-t", "--run-time", default=None, help="e.g. 30s, 5m (scenario)")
    parser.add_argument("--llm-json", default=None, help="write the run summary to this path")
    parser.add_argument("--html", default=None, help="write the HTML report to this path")
    parser.add_argument("--llm-requests", default=None, help="write every call to this JSONL")


def locust_command(
    scenario: Scenario, args: argparse.Namespace, locustfile: Path, extra: list[str]
) -> list[str]:
    """The Locust command line for `scenario`, command-line values over scenario ones."""
    load = scenario.load
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--scenario", args.scenario]
    host = args.host or scenario.target.host
    if host:
        cmd += ["-H", host]
    if args.headless:
        cmd.append("--headless")
    if not load.stages or args.users is not None:
        cmd += ["-u", str(args.users if args.users is not None else load.users)]
    if not load.stages or args.spawn_rate is not None:
        rate = args.spawn_rate if args.spawn_rate is not None else load.spawn_rate
        cmd += ["-r", f"{rate:g}"]
    run_time = args.run_time or load.run_time
    if run_time:
        cmd += ["-t", run_time]
    if args.llm_json:
        cmd += ["--llm-json", args.llm_json]
    if args.html:
        cmd += ["--llm-html", args.html]
    if args.llm_requests:
        cmd += ["--llm-requests", args.llm_requests]
    return cmd + extra


def run_scenario(args: argparse.Namespace, locustfile: Path, extra: list[str]) -> int:
    """Validate, launch Locust and return its exit code."""
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        print(f"INVALID: {args.scenario}\n{error}", file=sys.stderr)
        return INVALID
    if not (args.host or scenario.target.host):
        print(f"{args.scenario}: no target: set target.host or give -H URL", file=sys.stderr)
        return INVALID
    proc = subprocess.Popen(locust_command(scenario, args, locustfile, extra))
    # A SIGTERM for us (docker stop, kill, a CI timeout) goes on to Locust, which stops the
    # test and writes its summary; we then return its exit code instead of orphaning it.
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Locust got the Ctrl-C too: let it write its summary
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
