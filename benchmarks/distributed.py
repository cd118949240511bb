"""Distributed scaling: master + 1 worker, then master + 2 workers, against the embedded mock.

One mock (``python -m llm_load.mock``, by default ``--ttft-ms 20 --itl-ms 2 --tokens 64``:
about 440 tokens/s per user, so 192 users ask for ~84k tokens/s, more than one client core
takes in) serves, one after another, a headless Locust master (``--expect-workers W``) with W
workers on 127.0.0.1, all running ``locustfiles/chat.py`` with the same users, spawn rate and
duration; the mock's ground truth is reset before each. Once the master logs "All users
spawned" and a settle time has passed, a steady window of ``--duration`` seconds is measured:
the CPU of the master, of each worker and of the mock (``utime+stime`` from
``/proc/PID/stat`` at both ends, in % of one core), the CPU every other process used
(``/proc/stat``), and the requests and tokens the mock finished in the window (its truth).
After the run: the summary's whole-run req/s and output tokens/s (each content chunk is one
token) against the mock's truth, and the client's TTFT p50/p99 against the truth's (completed
requests, nearest rank). Prints a Markdown table; the raw numbers go to
``artifacts/distributed-*.json``.

Nothing is pinned by default: with the mock on one core and every Locust process on the other
(``--pin``), two workers would share one core and could only show the cost of splitting the
load. Unpinned, two workers can use both cores, next to the mock; if the mock's truth ITL
rises above its configured ITL, the mock (not the client) was the limit. Every child runs in
a session of its own and is stopped (SIGTERM, then SIGKILL) when its run ends or on Ctrl-C.

    python benchmarks/distributed.py                          # 192 users, 20 s window, 1 and 2
    python benchmarks/distributed.py --users 256 --duration 8 --workers 1,2,3 --pin
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client_overhead import CLK_TCK, cpu_seconds  # a sibling script (benchmarks/ on sys.path)

from llm_load.mock.process import MockProcess, spawn_mock

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "locustfiles" / "chat.py"
ARTIFACTS = ROOT / "artifacts"
SPAWNED = "All users spawned"
TAIL_S = 3.0  # -t beyond ramp + settle + window, so the window never meets the stop
EXIT_WAIT_S = 60.0  # after -t, for the master to collect final reports and exit


@dataclass(frozen=True)
class Config:
    """What to run."""

    users: int
    ramp_s: float
    settle_s: float
    duration_s: float
    workers: tuple[int, ...]
    ttft_ms: float
    itl_ms: float
    tokens: int
    pin: bool

    def mock_args(self) -> tuple[str, ...]:
        return ("--ttft-ms", f"{self.ttft_ms:g}", "--itl-ms", f"{self.itl_ms:g}",
                "--tokens", str(self.tokens))  # fmt: skip

    @property
    def ceiling_tokens_per_s(self) -> float:
        """What the users ask for: each sends its next request the moment one ends."""
        per_request_s = (self.ttft_ms + (self.tokens - 1) * self.itl_ms) / 1e3
        return self.users * self.tokens / per_request_s

    @property
    def run_time_s(self) -> int:
        return int(self.ramp_s + self.settle_s + self.duration_s + TAIL_S + 0.999)


# -- /proc and small helpers ---------------------------------------------------------------
def busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (``/proc/stat``, idle and iowait excluded)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nearest_rank(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, -(-int(q * len(ordered)) // 100)) - 1]


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


# -- the Locust processes ------------------------------------------------------------------
class Cluster:
    """A headless master and its workers on 127.0.0.1, each in a session of its own, their
    output in files; a context manager that stops whatever is still running."""

    def __init__(self, cfg: Config, workers: int, host: str, tmp: Path) -> None:
        self.cfg, self.workers, self.host, self.tmp = cfg, workers, host, tmp
        self.summary = tmp / f"summary-{workers}.json"
        self.procs: list[subprocess.Popen[bytes]] = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        pin = ["taskset", "-c", "1"] if self.cfg.pin and shutil.which("taskset") else []
        cmd = [*pin, sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]
        with (self.tmp / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=ROOT,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def __enter__(self) -> Cluster:
        cfg, port = self.cfg, str(free_port())
        rate = f"{cfg.users / max(cfg.ramp_s, 0.001):g}"
        self._spawn("master", [
            "--master", "--headless", "--expect-workers", str(self.workers),
            "--expect-workers-max-wait", "60", "-u", str(cfg.users), "-r", rate,
            "-t", f"{cfg.run_time_s}s", "-H", self.host, "--model", "mock-llm",
            "--max-tokens", str(cfg.tokens), "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, "--llm-json", str(self.summary), "--only-summary",
        ])  # fmt: skip
        for i in range(self.workers):
            self._spawn(f"worker{i}", ["--worker", "--master-host", "127.0.0.1",
                                       "--master-port", port])  # fmt: skip
        return self

    def __exit__(self, *_: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def master(self) -> subprocess.Popen[bytes]:
        return self.procs[0]

    def log(self, name: str = "master") -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def wait_spawned(self, timeout: float) -> None:
        """Until the master has logged that all users run; RuntimeError if it never does."""
        deadline = time.monotonic() + timeout
        while SPAWNED not in self.log():
            if self.master.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the users never all ran; master log:\n{self.log()[-3000:]}")
            time.sleep(0.1)


# -- one run -------------------------------------------------------------------------------
def cpu_window(cluster: Cluster, mock: MockProcess, seconds: float) -> dict[str, Any]:
    """CPU % of one core of the master, each worker and the mock over the next `seconds`, the
    cores every other process kept busy, and the window's ends (perf_counter s)."""
    pids = [p.pid for p in cluster.procs] + [mock.proc.pid]
    before, busy0, t0 = [cpu_seconds(pid) for pid in pids], busy_seconds(), time.perf_counter()
    time.sleep(seconds)
    after, busy1, t1 = [cpu_seconds(pid) for pid in pids], busy_seconds(), time.perf_counter()
    window = t1 - t0
    used = [b - a for a, b in zip(before, after, strict=True)]
    return {
        "t0": t0, "t1": t1, "window_s": window,
        "master_cpu_pct": 100 * used[0] / window,
        "worker_cpu_pct": [100 * u / window for u in used[1:-1]],
        "mock_cpu_pct": 100 * used[-1] / window,
        "other_cores": (busy1 - busy0 - sum(used)) / window,
    }  # fmt: skip


def truth_numbers(stats: dict[str, Any], t0: float, t1: float) -> dict[str, Any]:
    """The mock's own view: totals, TTFT percentiles and ITL over completed requests, and the
    requests and tokens it finished inside the window (mock and we share CLOCK_MONOTONIC)."""
    records = stats["requests"]
    done = [r for r in records if r["completed"]]
    ended = [r for r in done if t0 <= r["received_at"] + r["e2e_ms"] / 1e3 <= t1]
    itls = [r["itl_ms_mean"] for r in done if r["itl_ms_mean"] is not None]
    ttfts = [r["ttft_ms"] for r in done]
    return {
        "requests": stats.get("total", len(records)),
        "tokens": sum(r["tokens"] for r in records),
        "ttft_p50_ms": nearest_rank(ttfts, 50),
        "ttft_p99_ms": nearest_rank(ttfts, 99),
        "itl_ms_mean": sum(itls) / len(itls) if itls else None,
        "window_requests_per_s": len(ended) / (t1 - t0),
        "window_tokens_per_s": sum(r["tokens"] for r in ended) / (t1 - t0),
    }


def run_one(cfg: Config, workers: int, mock: MockProcess, tmp: Path) -> dict[str, Any]:
    """Master + `workers` workers for one run; its numbers as one dict."""
    mock.reset()
    with Cluster(cfg, workers, mock.base_url, tmp) as cluster:
        cluster.wait_spawned(timeout=90 + cfg.ramp_s)
        time.sleep(cfg.settle_s)
        cpu = cpu_window(cluster, mock, cfg.duration_s)
        try:
            code = cluster.master.wait(cfg.run_time_s + EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"master did not exit; log:\n{cluster.log()[-3000:]}") from None
        if not cluster.summary.exists():
            raise RuntimeError(f"no summary (exit {code}); log:\n{cluster.log()[-3000:]}")
        summary = json.loads(cluster.summary.read_text())
    truth = truth_numbers(mock.stats(), cpu["t0"], cpu["t1"])
    return result(cfg, workers, code, summary, truth, cpu)


def result(cfg: Config, workers: int, code: int, summary: dict, truth: dict, cpu: dict) -> dict:
    t, duration = summary["totals"], summary["duration_s"]
    ttft = t["ttft_ms"]
    return {
        "workers": workers, "users": cfg.users, "exit_code": code, "duration_s": duration,
        "requests": t["requests"], "cancelled": t["cancelled"], "failures": t["failures"],
        "workers_lost": summary.get("workers_lost"),
        "requests_per_s": t["requests_per_s"], "output_tokens": t["output_tokens"],
        "output_tokens_per_s": t["output_tokens_per_s"],
        "truth_tokens_per_s": truth["tokens"] / duration if duration else None,
        "ceiling_tokens_per_s": cfg.ceiling_tokens_per_s,
        "counts_match": t["requests"] + t["cancelled"] == truth["requests"],
        "ttft_p50_ms": ttft["p50"], "ttft_p99_ms": ttft["p99"],
        "ttft_p50_err_ms": diff(ttft["p50"], truth["ttft_p50_ms"]),
        "ttft_p99_err_ms": diff(ttft["p99"], truth["ttft_p99_ms"]),
        "truth": truth, "cpu": cpu,
    }  # fmt: skip


# -- output --------------------------------------------------------------------------------
def fmt(value: float | None, spec: str = ",.0f", sign: str = "") -> str:
    return "–" if value is None else format(value, sign + spec)


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| workers | users | req/s | out tok/s | truth tok/s | steady tok/s (of ceiling) "
            "| TTFT p50 err | TTFT p99 err | worker CPU | master CPU | mock CPU | mock ITL "
            "| other cores | counts = truth |")  # fmt: skip
    lines = [head, "|" + "---:|" * 13 + ":---:|"]
    for r in rows:
        cpu, truth = r["cpu"], r["truth"]
        workers_cpu = " + ".join(f"{c:.0f} %" for c in cpu["worker_cpu_pct"])
        share = 100 * truth["window_tokens_per_s"] / r["ceiling_tokens_per_s"]
        lines.append(
            f"| {r['workers']} | {r['users']} | {fmt(r['requests_per_s'])} "
            f"| {fmt(r['output_tokens_per_s'])} | {fmt(r['truth_tokens_per_s'])} "
            f"| {fmt(truth['window_tokens_per_s'])} ({share:.0f} %) "
            f"| {fmt(r['ttft_p50_err_ms'], '.1f', '+')} ms "
            f"| {fmt(r['ttft_p99_err_ms'], '.1f', '+')} ms | {workers_cpu} "
            f"| {cpu['master_cpu_pct']:.1f} % | {cpu['mock_cpu_pct']:.0f} % "
            f"| {fmt(truth['itl_ms_mean'], '.2f')} ms | {max(0.0, cpu['other_cores']):.2f} "
            f"| {'yes' if r['counts_match'] else 'NO'} |"
        )
    return "\n".join(lines)


def parse_args() -> Config:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=192)
    p.add_argument("--ramp", type=float, default=2.0, help="seconds to spawn all users")
    p.add_argument("--settle", type=float, default=2.0, help="seconds after the ramp, unmeasured")
    p.add_argument("--duration", type=float, default=20.0, help="the measured window (s)")
    p.add_argument("--workers", default="1,2", help="worker counts, one run each (1,2)")
    p.add_argument("--ttft-ms", type=float, default=20.0)
    p.add_argument("--itl-ms", type=float, default=2.0)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--pin", action="store_true", help="mock on CPU 0, every Locust on CPU 1")
    a = p.parse_args()
    workers = tuple(int(w) for w in a.workers.split(","))
    return Config(a.users, a.ramp, a.settle, a.duration, workers, a.ttft_ms, a.itl_ms,
                  a.tokens, a.pin)  # fmt: skip


def interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM too: leave through the context managers, which clean up


def main() -> int:
    cfg = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    rows: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            spawn_mock(*cfg.mock_args(), cpu=0 if cfg.pin else None) as mock,
        ):
            for workers in cfg.workers:
                print(f"master + {workers} worker(s), {cfg.users} users ...", file=sys.stderr)
                rows.append(run_one(cfg, workers, mock, Path(tmp)))
    except KeyboardInterrupt:
        print("interrupted: every process stopped", file=sys.stderr)
        return 130
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / f"distributed-{started.replace(':', '')}.json"
    raw = {"started": started, "config": cfg.__dict__, "loadavg": os.getloadavg(), "runs": rows}
    out.write_text(json.dumps(raw, indent=2))
    print(markdown(rows))
    print(f"\nraw numbers: {out}", file=sys.stderr)
    return 0 if all(r["exit_code"] == 0 and r["counts_match"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
