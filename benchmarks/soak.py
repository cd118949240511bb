"""Soak: a long headless run at N streams, sampling the Locust processes' memory over time.

The mock (pinned to CPU 0) serves a Locust process (pinned to CPU 1) running
`locustfiles/chat.py` with N users for D seconds; with `--processes K` that process is a master
forking K workers (Locust's `--processes`). Every S seconds each client process's RSS is read
from `/proc/<pid>/status`; at the end the summary's request count is compared with the mock's
ground truth. Memory must stay flat: metrics are fixed-size histograms and nothing per request
is kept. Prints the RSS series, its first/last/max, and the counts.

The mock's fault switches pass through (`--error-rate`, `--error-status`, `--drop-rate`,
`--stall-rate`, `--stall-s`); with any of them the users finish their request in flight at the
end (`--stop-timeout`), so each error kind of the summary must equal the faults the mock carried
out: `http_<status>`, `connection_closed` for drops, `timeout` for stalls longer than the
client's `--request-timeout` (shorter stalls are no errors).

    python benchmarks/soak.py --users 256 --duration 600 --every 30
    python benchmarks/soak.py --users 64 --duration 300 --error-rate 0.05 --drop-rate 0.02
    python benchmarks/soak.py --users 256 --duration 600 --processes 2 --error-rate 0.05 \
        --drop-rate 0.02
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llm_load.mock.process import spawn_mock

ROOT = Path(__file__).resolve().parent.parent
MOCK_ARGS = ("--ttft-ms", "50", "--itl-ms", "5", "--tokens", "128")
FAULT_FLAGS = ("error_rate", "error_status", "drop_rate", "stall_rate", "stall_s")
CLIENT_KIND = {"dropped": "connection_closed", "stalled": "timeout"}


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def locust_cmd(base_url: str, args: argparse.Namespace, summary: Path) -> list[str]:
    locustfile = str(ROOT / "locustfiles" / "chat.py")
    users = str(args.users)
    wait = str(int(args.stall_s + args.request_timeout) + 1)
    drain = ("--stop-timeout", wait) if faulty(args) else ()
    return [
        "taskset", "-c", "1", sys.executable, "-m", "locust", "-f", locustfile, "--headless",
        "-u", users, "-r", users, "-t", f"{args.duration}s", "-H", base_url,
        "--model", "mock-llm", "--max-tokens", "128", "--llm-json", str(summary),
        "--request-timeout", f"{args.request_timeout:g}", *drain,
        "--only-summary", "--loglevel", "WARNING",
        *(("--processes", str(args.processes)) if args.processes else ()),
    ]  # fmt: skip


def faulty(args: argparse.Namespace) -> bool:
    return bool(args.error_rate or args.drop_rate or args.stall_rate)


def mock_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The mock's flags: the latencies, and the fault switches when set."""
    if not faulty(args):
        return MOCK_ARGS
    faults = [(f"--{name.replace('_', '-')}", f"{getattr(args, name):g}") for name in FAULT_FLAGS]
    return (*MOCK_ARGS, *(part for pair in faults for part in pair))


def expected_errors(faults: dict[str, int], args: argparse.Namespace) -> dict[str, int]:
    """The error kinds (and counts) the client should report for the mock's faults."""
    out: dict[str, int] = {}
    for fault, count in faults.items():
        if fault == "stalled" and args.stall_s <= args.request_timeout:
            continue  # the stream resumes before the client gives up
        kind = CLIENT_KIND.get(fault, fault)
        out[kind] = out.get(kind, 0) + count
    return out


def children(pid: int) -> list[int]:
    """The direct children of a process (the workers a `--processes` master forked)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def sample(proc: subprocess.Popen, every: float) -> list[tuple[float, list[float]]]:
    """(seconds since start, RSS MiB of the process and of each child) every `every` seconds
    until the process ends."""
    start, series = time.monotonic(), []
    while proc.poll() is None:
        pids = [proc.pid, *children(proc.pid)]
        series.append((time.monotonic() - start, [rss_mib(pid) for pid in pids]))
        try:
            proc.wait(timeout=every)
        except subprocess.TimeoutExpired:
            continue
    return series


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=256)
    parser.add_argument("--duration", type=int, default=600, help="seconds")
    parser.add_argument("--every", type=float, default=30.0, help="RSS sampling period (s)")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="client's (s)")
    parser.add_argument(
        "--processes", type=int, default=0, help="Locust workers to fork (0: one process)"
    )
    faults = parser.add_argument_group("the mock's faults (see llm-load mock --help)")
    for name in ("--error-rate", "--drop-rate", "--stall-rate"):
        faults.add_argument(name, type=float, default=0.0, metavar="R")
    faults.add_argument("--error-status", type=int, default=503, metavar="CODE")
    faults.add_argument("--stall-s", type=float, default=10.0, metavar="S")
    return parser.parse_args()


def report(args: argparse.Namespace, series: list, summary: dict, stats: dict) -> bool:
    """Print the RSS series and the counts against the truth; whether they agree."""
    print(f"{args.users} streams for {args.duration} s; client RSS (MiB) every {args.every:g} s:")
    width = max(len(rss) for _, rss in series)
    for i in range(width):  # the process (the master with --processes), then each worker
        values = [rss[i] for _, rss in series if len(rss) == width and rss[i]]
        name = "client" if width == 1 else ("master" if i == 0 else f"worker {i}")
        print(f"  {name}: " + " ".join(f"{v:.0f}" for v in values))
        print(f"    first {values[1]:.0f}, last {values[-1]:.0f}, max {max(values):.0f} MiB")
    totals, truth = summary["totals"], stats["total"]  # "count" is capped at the records kept
    counted = totals["requests"] + totals["cancelled"]
    print(f"requests {totals['requests']:,} + cancelled {totals['cancelled']:,} = {counted:,}; "
          f"mock truth {truth:,}; failures {totals['failures']:,}")  # fmt: skip
    errors = {e["kind"]: e["count"] for e in summary["errors"]}
    expected = expected_errors(stats.get("faults", {}), args)
    print(f"mock faults {stats.get('faults', {})}")
    for kind in sorted(set(errors) | set(expected)):
        print(f"  {kind}: client {errors.get(kind, 0):,}, truth {expected.get(kind, 0):,}")
    return counted == truth and errors == expected and totals["failures"] == sum(errors.values())


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp, spawn_mock(*mock_args(args), cpu=0) as mock:
        summary_path = Path(tmp) / "summary.json"
        cmd = locust_cmd(mock.base_url, args, summary_path)
        with (Path(tmp) / "locust.log").open("w+") as log:  # a pipe nobody reads could fill up
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
            try:
                series = sample(proc, args.every)
            finally:
                proc.kill() if proc.poll() is None else None
            log.seek(0)
            if not summary_path.exists():
                print(log.read()[-3000:], file=sys.stderr)
                return 1
        stats = mock.stats()
        summary = json.loads(summary_path.read_text())
    return 0 if report(args, series, summary, stats) else 1


if __name__ == "__main__":
    sys.exit(main())
