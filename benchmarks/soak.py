"""Soak: a long headless run at N streams, sampling the Locust process's memory over time.

The mock (pinned to CPU 0) serves a Locust process (pinned to CPU 1) running
`locustfiles/chat.py` with N users for D seconds. Every S seconds the client's RSS is read from
`/proc/<pid>/status`; at the end the summary's request count is compared with the mock's
ground truth. Memory must stay flat: metrics are fixed-size histograms and nothing per request
is kept. Prints the RSS series, its first/last/max, and the counts.

    python benchmarks/soak.py --users 256 --duration 600 --every 30
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


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def locust_cmd(base_url: str, users: int, duration: int, summary: Path) -> list[str]:
    locustfile = str(ROOT / "locustfiles" / "chat.py")
    return [
        "taskset", "-c", "1", sys.executable, "-m", "locust", "-f", locustfile, "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{duration}s", "-H", base_url,
        "--model", "mock-llm", "--max-tokens", "128", "--llm-json", str(summary),
        "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip


def sample(proc: subprocess.Popen, every: float) -> list[tuple[float, float]]:
    """(seconds since start, RSS MiB) every `every` seconds until the process ends."""
    start, series = time.monotonic(), []
    while proc.poll() is None:
        series.append((time.monotonic() - start, rss_mib(proc.pid)))
        try:
            proc.wait(timeout=every)
        except subprocess.TimeoutExpired:
            continue
    return series


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=256)
    parser.add_argument("--duration", type=int, default=600, help="seconds")
    parser.add_argument("--every", type=float, default=30.0, help="RSS sampling period (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, spawn_mock(*MOCK_ARGS, cpu=0) as mock:
        summary_path = Path(tmp) / "summary.json"
        cmd = locust_cmd(mock.base_url, args.users, args.duration, summary_path)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            series = sample(proc, args.every)
        finally:
            proc.kill() if proc.poll() is None else None
        truth = mock.stats()["total"]  # "count" is capped at the records kept
        totals = json.loads(summary_path.read_text())["totals"]
    print(f"{args.users} streams for {args.duration} s; client RSS (MiB) every {args.every:g} s:")
    print("  " + " ".join(f"{rss:.0f}" for _, rss in series if rss))
    values = [rss for _, rss in series if rss]
    print(f"  first {values[1]:.0f}, last {values[-1]:.0f}, max {max(values):.0f} MiB")
    counted = totals["requests"] + totals["cancelled"]
    print(f"requests {totals['requests']:,} + cancelled {totals['cancelled']:,} = {counted:,}; "
          f"mock truth {truth:,}; failures {totals['failures']:,}")  # fmt: skip
    return 0 if counted == truth and totals["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
