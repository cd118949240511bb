"""`llm-load validate`, `run`, `scenarios` and `init`: check scenario files, launch Locust.

`validate` prints `OK: FILE (summary)` or every problem of each file (exit 0, or 2 when any
file is invalid). `run SCENARIO` validates, then runs `python -m locust -f
locustfiles/scenario.py --scenario PATH` with `-H`, `-u`, `-r` and `-t` taken from the
scenario unless given on the command line; `run -H URL` without a scenario runs the
streaming chat locustfile (`locustfiles/chat.py`) with the given options, unless workload
flags (`--input-tokens`, `--dataset`, `--trace`, ...: `llm_load.workload_cli`) make a
scenario of them, or change the given one, run from a temporary file. A scenario is a
file, or the name of a bundled one (`llm-load scenarios` lists them, `llm-load init NAME`
copies one with its data files). Other options and everything after `--` go to Locust
unchanged, and a SIGTERM is passed on to it.
Its exit code is Locust's (0 pass, 1 failed requests, 2 usage error, 3 thresholds failed).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from llm_load.bundled import bundled_scenarios, copy_scenario, locustfile_path, resolve_scenario
from llm_load.core.scenario.schema import Scenario, ScenarioError, load_scenario
from llm_load.workload_cli import (
    add_workload_arguments,
    build_scenario,
    locust_passthrough,
    print_scenario,
    wants_scenario,
    workload_scenario,
)

__all__ = [
    "add_init_arguments",
    "add_run_arguments",
    "init_scenario",
    "list_scenarios",
    "locust_command",
    "run_locust",
    "validate_files",
]

INVALID = 2
RUN_USAGE = "llm-load run [SCENARIO] [-H URL] [options] [Locust options] [-- Locust options]"


def validate_files(paths: list[str]) -> int:
    """Print each file's verdict; 0 when all are valid, else 2."""
    code = 0
    for path in paths:
        try:
            scenario = load_scenario(resolve_scenario(path))
        except ScenarioError as error:
            print(f"INVALID: {path}\n{error}", file=sys.stderr)
            code = INVALID
            continue
        print(f"OK: {path} ({scenario.name}: {scenario.summary()})")
    return code


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """`run`'s own options; SCENARIO (first, optional) is taken off before parsing."""
    parser.usage = RUN_USAGE
    parser.set_defaults(scenario=None)
    parser.add_argument("--headless", action="store_true", help="no web UI: run and exit")
    parser.add_argument("-H", "--host", default=None, help="target URL (scenario target.host)")
    parser.add_argument("-u", "--users", type=int, default=None, help="users (scenario)")
    parser.add_argument("-r", "--spawn-rate", type=float, default=None, help="users/s (scenario)")
    parser.add_argument("-t", "--run-time", default=None, help="e.g. 30s, 5m (scenario)")
    parser.add_argument("--llm-json", default=None, help="write the run summary to this path")
    parser.add_argument("--html", default=None, help="write the HTML report to this path")
    parser.add_argument("--llm-requests", default=None, help="write every call to this JSONL")
    add_workload_arguments(parser)


def locust_command(
    scenario: Scenario | None, args: argparse.Namespace, locustfile: Path, extra: list[str]
) -> list[str]:
    """The Locust command line: command-line values over the scenario's (if any)."""
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    if scenario is not None:
        cmd += ["--scenario", args.scenario]
    host = args.host or (scenario.target.host if scenario else None)
    if host:
        cmd += ["-H", host]
    if args.headless:
        cmd.append("--headless")
    cmd += _load_options(scenario, args)
    for value, option in ((args.llm_json, "--llm-json"), (args.html, "--llm-html")):
        if value:
            cmd += [option, value]
    if args.llm_requests:
        cmd += ["--llm-requests", args.llm_requests]
    return cmd + locust_passthrough(args) + extra


def _load_options(scenario: Scenario | None, args: argparse.Namespace) -> list[str]:
    """-u, -r and -t: given ones, else the scenario's (none of -u/-r for its stages)."""
    users, rate, run_time = args.users, args.spawn_rate, args.run_time
    if scenario is not None:
        load = scenario.load
        if not load.stages:
            users = load.users if users is None else users
            rate = load.spawn_rate if rate is None else rate
        run_time = run_time or load.run_time
    out = [] if users is None else ["-u", str(users)]
    out += [] if rate is None else ["-r", f"{rate:g}"]
    return out + (["-t", run_time] if run_time else [])


def run_locust(args: argparse.Namespace, extra: list[str]) -> int:
    """Validate the scenario (if any, or the one the workload flags make), launch Locust and
    return its exit code."""
    stray = [  # a scenario file after the options (not an option's value)
        a for i, a in enumerate(extra)
        if a.endswith((".yaml", ".yml")) and not (i and extra[i - 1].startswith("-"))
    ]  # fmt: skip
    if stray and args.scenario is None:
        print(f"the scenario goes first: llm-load run {stray[0]} [options]", file=sys.stderr)
        return INVALID
    name = args.scenario
    if name is not None:
        args.scenario = resolve_scenario(name)
    try:
        if wants_scenario(args):
            return _run_flags(args, extra)
        scenario = None if args.scenario is None else load_scenario(args.scenario)
    except ScenarioError as error:
        print(f"INVALID: {name or '(from flags)'}\n{error}", file=sys.stderr)
        if name is not None and not Path(args.scenario).exists():
            print("(not a file, nor a bundled scenario: llm-load scenarios)", file=sys.stderr)
        return INVALID
    return _launch(scenario, args, extra)


def _run_flags(args: argparse.Namespace, extra: list[str]) -> int:
    """Run (or `--print-scenario`) the scenario the workload flags make, from a temporary
    file removed when Locust is done."""
    data = build_scenario(args, extra)
    if args.print_scenario:
        return print_scenario(data)
    with workload_scenario(data) as path:
        args.scenario = path
        return _launch(load_scenario(path), args, extra)


def _launch(scenario: Scenario | None, args: argparse.Namespace, extra: list[str]) -> int:
    if not (args.host or (scenario and scenario.target.host)):
        where = f"{args.scenario}: no target: set target.host or give" if scenario else "give"
        print(f"{where} -H URL (the server's base URL)", file=sys.stderr)
        return INVALID
    locustfile = locustfile_path("scenario" if scenario else "chat")
    return _wait(subprocess.Popen(locust_command(scenario, args, locustfile, extra)))


def _wait(proc: subprocess.Popen) -> int:
    # A SIGTERM for us (docker stop, kill, a CI timeout) goes on to Locust, which stops the
    # test and writes its summary; we then return its exit code instead of orphaning it.
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Locust got the Ctrl-C too: let it write its summary
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def list_scenarios(_args: argparse.Namespace) -> int:
    """One line per bundled scenario: its name and description."""
    found = bundled_scenarios()
    width = max(map(len, found), default=0)
    for name, path in found.items():
        try:
            scenario = load_scenario(path)
            about = scenario.description or scenario.summary()
        except ScenarioError as error:  # pragma: no cover - shipped scenarios are tested
            about = f"INVALID: {error}".splitlines()[0]
        print(f"{name:<{width}}  {about}")
    return 0


def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", default="smoke", help="bundled scenario (smoke)")
    parser.add_argument("dir", nargs="?", default=".", help="where to copy it (.)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")


def init_scenario(args: argparse.Namespace) -> int:
    """Copy a bundled scenario and its data files into `args.dir` to edit."""
    found = bundled_scenarios()
    source = found.get(args.name.removesuffix(".yaml"))
    if source is None:
        print(f"no bundled scenario {args.name!r} (see llm-load scenarios)", file=sys.stderr)
        return INVALID
    try:
        written = copy_scenario(source, load_scenario(source), Path(args.dir), args.force)
    except (FileExistsError, OSError) as error:
        print(f"llm-load init: {error}", file=sys.stderr)
        return INVALID
    for path in written:
        print(f"wrote {path}")
    print(f"next: llm-load run {written[0]} --headless -H URL")
    return 0
