"""The `llm-load` command: `demo`, `mock`, `doctor`, `models`, `validate`, `run`, `capacity`,
`scenarios`, `init`, `locustfile`, `compare` and `report`.

`llm-load demo` starts the embedded mock server on a free loopback port, runs a short
headless Locust test with the streaming chat user against it, prints the LLM summary and
writes `summary.json`. It launches Locust; it never re-implements Locust's own options.
`llm-load doctor` checks an endpoint step by step (exit codes in `llm_load.doctor.EXIT_CODES`);
`llm-load models` lists what it serves. `llm-load validate` checks scenario files,
`llm-load run` launches Locust with one or against `-H URL` alone, `llm-load scenarios` lists
the bundled ones and `llm-load init` copies one (see `llm_load.scenario_cli`);
`llm-load capacity` searches the most load served within SLOs (see
`llm_load.capacity_cli`); `llm-load locustfile NAME` prints a shipped locustfile's path
for `locust -f`. `llm-load compare`
sends the same prompt to several models (see `llm_load.compare`); `llm-load report`
renders summaries as HTML/CSV/Markdown and compares two runs (see `llm_load.report.cli`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import llm_load
from llm_load import scenario_cli
from llm_load.bundled import locustfile_names, locustfile_path
from llm_load.capacity_cli import add_capacity_arguments
from llm_load.compare import add_arguments as add_compare_arguments
from llm_load.core.wire.protocols import API_NAMES
from llm_load.report.cli import add_report_parser, run_report
from llm_load.report.console import print_summary

__all__ = ["locustfile_path", "main"]


def _demo(args: argparse.Namespace) -> int:
    from llm_load.mock.process import spawn_mock

    mock_args = ["--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms)]
    with spawn_mock(*mock_args, "--tokens", str(args.max_tokens)) as mock:
        print(f"mock server: {mock.base_url} (TTFT {args.ttft_ms} ms, ITL {args.itl_ms} ms)")
        cmd = [
            sys.executable, "-m", "locust", "-f", str(locustfile_path("chat")),
            "--headless", "-u", str(args.users), "-r", str(args.users), "-t", args.run_time,
            "-H", mock.base_url, "--model", args.model, "--max-tokens", str(args.max_tokens),
            "--llm-json", args.llm_json, "--only-summary", "--loglevel", "WARNING",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not Path(args.llm_json).is_file():
        print(proc.stdout[-4000:] + proc.stderr[-4000:], file=sys.stderr)
        print(f"locust exited with {proc.returncode}", file=sys.stderr)
        return proc.returncode or 1
    print_summary(json.loads(Path(args.llm_json).read_text()))
    print(f"summary written to {args.llm_json}")
    return 0


def _mock(argv: list[str]) -> int:
    from llm_load.mock.cli import main as mock_main

    return mock_main(argv)


def _doctor(args: argparse.Namespace) -> int:
    from llm_load.doctor import DoctorRun
    from llm_load.doctor.run import checks_for
    from llm_load.report import doctor as show

    run = DoctorRun(
        args.host, args.api_key, os.environ, args.model, args.timeout, args.insecure, args.api
    )
    if not args.json:
        show.print_doctor_header(run.header())
    run.run(checks_for(args.api), on_step=None if args.json else show.print_step)
    result = run.result()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show.print_verdict(result)
    return int(result["exit_code"])


def _models(args: argparse.Namespace) -> int:
    from llm_load.doctor import list_models
    from llm_load.report.doctor import print_models

    result = list_models(
        args.host, api_key=args.api_key, environ=os.environ, timeout=args.timeout,
        insecure=args.insecure,
    )  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_models(result)
    return int(result["exit_code"])


def _compare(args: argparse.Namespace) -> int:
    from llm_load.compare import main as compare_main

    return compare_main(args)


def _validate(args: argparse.Namespace) -> int:
    from llm_load.scenario_cli import validate_files

    return validate_files(args.files)


def _locustfile(args: argparse.Namespace) -> int:
    print(locustfile_path(args.name))  # a name from the parser's choices: it exists
    return 0


def _capacity(args: argparse.Namespace, extra: list[str]) -> int:
    from llm_load.capacity_cli import run_capacity

    return run_capacity(args, locustfile_path("capacity"), extra)


def _run(argv: list[str]) -> int:
    """`run [SCENARIO] ...`: a scenario comes first; options we do not know go to Locust."""
    scenario = argv.pop(1) if len(argv) > 1 and not argv[1].startswith("-") else None
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args, unknown = build_parser().parse_known_args(argv)
    args.scenario = scenario
    return scenario_cli.run_locust(args, unknown + extra)


def _add_target_args(parser: argparse.ArgumentParser) -> None:
    """-H, --api-key, --timeout, --json and --insecure, shared by doctor and models."""
    parser.add_argument("-H", "--host", required=True, help="server base URL, with or without /v1")
    parser.add_argument(
        "--api-key", default=None,
        help="API key (else LLM_LOAD_API_KEY, then OPENAI_API_KEY); '' sends an empty one",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, s (30)")
    parser.add_argument("--json", action="store_true", help="print a JSON result, nothing else")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the TLS certificate (self-signed)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-load", description=llm_load.__doc__)
    version = f"llm-load {llm_load.__version__}"
    parser.add_argument("--version", action="version", version=version)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a short headless load test against the embedded mock")
    demo.add_argument("-u", "--users", type=int, default=8, help="concurrent users (8)")
    demo.add_argument("-t", "--run-time", default="10s", help="test duration (10s)")
    demo.add_argument("--model", default="mock-llm", help="mock model id (mock-llm)")
    demo.add_argument("--max-tokens", type=int, default=64, help="output tokens per reply (64)")
    demo.add_argument("--ttft-ms", type=float, default=50.0, help="mock time to first token")
    demo.add_argument("--itl-ms", type=float, default=5.0, help="mock inter-token latency")
    demo.add_argument("--llm-json", default="summary.json", help="summary path (summary.json)")
    sub.add_parser("mock", help="run the embedded OpenAI-compatible mock server", add_help=False)
    doctor = sub.add_parser(
        "doctor", help="check an endpoint step by step: URL, auth, model, chat, stream, tools",
        epilog="exit codes: 0 ready (warnings allowed), 10 connect, 11 endpoint (404, wrong "
        "base URL), 12 auth, 13 model, 14 chat, 15 stream; tool calling only warns",
    )  # fmt: skip
    _add_target_args(doctor)
    doctor.add_argument("--model", default=None, help="model id (default: the first served)")
    doctor.add_argument(
        "--api", default="chat", choices=API_NAMES,
        help="check this API instead of chat: which of the five the server answers, then one "
        "request of it decoded like the load test does (docs/apis.md)",
    )  # fmt: skip
    models = sub.add_parser("models", help="list the models an endpoint serves")
    _add_target_args(models)
    validate = sub.add_parser("validate", help="check scenario files (exit 2 when invalid)")
    validate.add_argument("files", nargs="+", metavar="SCENARIO", help="file or bundled name")
    run = sub.add_parser(
        "run", help="load-test -H URL with the streaming chat user, or run a scenario (a file "
        "or a bundled name); options llm-load does not know go to Locust",
        epilog="exit codes: 0 pass, 1 failed requests, 2 invalid scenario, 3 thresholds failed",
    )  # fmt: skip
    scenario_cli.add_run_arguments(run)
    sub.add_parser("scenarios", help="list the bundled scenarios (llm-load run NAME runs one)")
    init = sub.add_parser("init", help="copy a bundled scenario and its data files to edit")
    scenario_cli.add_init_arguments(init)
    locustfile = sub.add_parser(
        "locustfile", help='print a shipped locustfile\'s path: locust -f "$(llm-load '
        'locustfile chat)"',
    )  # fmt: skip
    locustfile.add_argument("name", choices=locustfile_names(), help="which locustfile")
    capacity = sub.add_parser(
        "capacity", help="find the most users (or req/s) served within SLOs, in one Locust run",
        epilog="exit codes: 0 found, 1 the search could not finish, 2 bad input, "
        "3 capacity below --expect; other options go to Locust",
    )  # fmt: skip
    add_capacity_arguments(capacity)
    add_report_parser(sub)
    compare = sub.add_parser(
        "compare", help="send the same prompt to several models and compare them side by side"
    )
    add_compare_arguments(compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mock"]:
        return _mock(argv[1:])
    if argv[:1] == ["run"]:
        return _run(list(argv))
    if argv[:1] == ["capacity"]:  # options capacity does not know go to Locust
        args, unknown = build_parser().parse_known_args(argv)
        return _capacity(args, unknown)
    args = build_parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "demo": _demo, "doctor": _doctor, "models": _models, "validate": _validate,
        "report": run_report, "compare": _compare, "locustfile": _locustfile,
        "scenarios": scenario_cli.list_scenarios, "init": scenario_cli.init_scenario,
    }  # fmt: skip
    if args.command in commands:
        return commands[args.command](args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
