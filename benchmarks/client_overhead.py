"""Client overhead: SSE chunks per client core-second and TTFT error, llm-load vs a baseline.

One mock server (``python -m llm_load.mock``, pinned to CPU 0, ``--ttft-ms 50 --itl-ms 5
--tokens 128``) serves, one after another, headless Locust runs of N users (``-r N``) for D
seconds, each pinned to CPU 1 with ``taskset``:

* ``handwritten``: ``benchmarks/locustfiles/handwritten.py``, a plain ``FastHttpUser`` reading
  SSE with ``readline()`` per line and ``json.loads`` per event (the baseline);
* ``llm-load``: ``locustfiles/chat.py`` (our ``LLMUser``) with ``--llm-json``;
* ``llm-load-greenlet`` (opt-in): the same with ``--stream-reader greenlet``;
* ``llm-load-readtime`` (opt-in): the reactor stamping arrivals when it reads them, not with
  the kernel's receive time (``LLM_LOAD_KERNEL_STAMPS=0``).

The mock's ground truth is reset before each client. Per client it reports: client CPU
(utime+stime of the Locust process and its reaped children, ``getrusage(RUSAGE_CHILDREN)``
delta, whole process; and the same minus the CPU used before the first request reached the
mock, the "load" CPU), content chunks the client counted (llm-load: ``totals.output_tokens``),
chunks per client core-second, the client's TTFT p50/p99 against the mock's truth over its
completed requests (nearest rank) and their difference (TTFT error), the mock's CPU share and
truth ITL mean (if the mock is late, the server and not the client is the limit), the
client's peak RSS (sum of ``VmHWM`` over its process tree) and how busy each CPU was. All N
users start within one second and each first request also opens a connection, so that first
wave can set the p99; so the p99 without the first N requests (``handwritten`` keeps every
TTFT in order; llm-load's come from its ``--llm-requests`` rows) is shown too, against the
truth without the first N arrivals.

    python benchmarks/client_overhead.py                         # 256 users, 20 s, both clients
    python benchmarks/client_overhead.py --users 128 --json /tmp/co128.json
    python benchmarks/client_overhead.py --processes 2 --users 1024   # client not pinned
    python benchmarks/client_overhead.py --only handwritten,llm-load,llm-load-greenlet
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llm_load.mock.process import MockProcess, spawn_mock

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
POLL_S = 0.1
MODEL = "mock-llm"


@dataclass(frozen=True)
class Config:
    """What to run."""

    users: int
    duration: float
    tokens: int
    processes: int
    clients: tuple[str, ...]
    llm_args: tuple[str, ...] = ()
    ttft_ms: float = 50.0
    itl_ms: float = 5.0
    mock_cpu: int = 0
    client_cpu: int = 1

    @property
    def pinned(self) -> bool:
        return self.processes <= 1 and shutil.which("taskset") is not None


@dataclass
class ClientReport:
    """What the client itself reported."""

    chunks: int
    requests: int
    cancelled: int
    ttft_p50: float | None
    ttft_p99: float | None
    steady_p99: float | None = None  # without each user's first request
    sent_epoch_s: list[float] | None = None  # when each request started (llm-load rows)


@dataclass
class Sample:
    """One poll of the client's process tree."""

    t: float
    cpu_s: float
    hwm_kib: int


@dataclass
class Result:
    """One client's row of the table."""

    client: str
    users: int
    processes: int
    pinned: bool
    exit_code: int
    wall_s: float
    load_wall_s: float
    cpu_s: float
    load_cpu_s: float
    chunks: int
    requests: int
    cancelled: int
    chunks_per_core_s: float
    load_chunks_per_core_s: float
    chunks_per_s: float
    peak_rss_mib: float
    ttft_p50: float | None
    ttft_p99: float | None
    truth_ttft_p50: float | None
    truth_ttft_p99: float | None
    ttft_err_p50: float | None
    ttft_err_p99: float | None
    steady_ttft_p99: float | None
    truth_steady_ttft_p99: float | None
    steady_ttft_err_p99: float | None
    delivery_p50: float | None
    delivery_p99: float | None
    truth_requests: int
    truth_tokens: int
    truth_itl_ms_mean: float | None
    mock_cpu_share: float
    mock_late: str
    background_cores: float
    cpu_busy: dict[str, float] = field(default_factory=dict)
    loadavg: tuple[float, float, float] = (0.0, 0.0, 0.0)


# -- /proc ---------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set size of one process (``VmHWM``), KiB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def sample_tree(pid: int) -> Sample:
    pids = process_tree(pid)
    return Sample(time.perf_counter(), sum(map(cpu_seconds, pids)), sum(map(vm_hwm_kib, pids)))


def cpu_ticks() -> dict[str, tuple[int, int]]:
    """Per-CPU (busy, total) jiffies from ``/proc/stat``."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *vals = line.split()
        if name.startswith("cpu") and name != "cpu":
            v = [int(x) for x in vals[:8]]
            out[name] = (sum(v) - v[3] - v[4], sum(v))
    return out


def busy_since(before: dict[str, tuple[int, int]]) -> tuple[dict[str, float], float]:
    """Share of time each CPU was busy (anyone's work) since ``before``, and the busy
    CPU seconds of all CPUs together."""
    after = cpu_ticks()
    share = {
        cpu: (after[cpu][0] - b[0]) / max(1, after[cpu][1] - b[1])
        for cpu, b in before.items()
        if cpu in after
    }
    busy = sum(after[cpu][0] - b[0] for cpu, b in before.items() if cpu in after)
    return share, busy / CLK_TCK


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# -- statistics ----------------------------------------------------------------------------
def nearest_rank(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100.0 * len(ordered))) - 1]


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def truth_summary(stats: dict[str, Any], users: int) -> dict[str, Any]:
    """TTFT p50/p99 and ITL mean of completed requests, TTFT p99 without the first wave (the
    first ``users`` requests to arrive), and when the first request arrived."""
    reqs = stats["requests"]
    done = [r for r in reqs if r["completed"] and r["ttft_ms"] is not None]
    done.sort(key=lambda r: r["received_at"])
    ttft = [r["ttft_ms"] for r in done]
    itl = [r["itl_ms_mean"] for r in done if r["itl_ms_mean"] is not None]
    return {
        "p50": nearest_rank(ttft, 50),
        "p99": nearest_rank(ttft, 99),
        "steady_p99": nearest_rank(ttft[users:], 99),
        "count": len(done),
        "tokens": sum(r["tokens"] for r in reqs),
        "itl_mean": sum(itl) / len(itl) if itl else None,
        "first_at": min((r["received_at"] for r in reqs), default=None),
        "received": sorted(r["received_at"] for r in reqs),
    }


def delivery_lags_ms(sent_epoch_s: list[float] | None, received: list[float]) -> list[float]:
    """Estimated time of each request between the client's clock start and the mock's
    `received_at`: the k-th request sent paired with the k-th received (both sorted; epoch
    turned into the mock's CLOCK_MONOTONIC, which `perf_counter` shares across processes).
    On Linux `received_at` is the kernel's arrival stamp, so this is the client's send path;
    without kernel stamps it also holds the mock's late reads, which its truth cannot see."""
    if not sent_epoch_s:
        return []
    offset = time.time() - time.perf_counter()
    sent = sorted(t - offset for t in sent_epoch_s)
    return [(r - s) * 1000 for s, r in zip(sent, received, strict=False)]


# -- the two clients -----------------------------------------------------------------------
def handwritten_args(cfg: Config, tmp: Path) -> tuple[list[str], dict[str, str]]:
    env = {"BENCH_OUT": str(tmp / "hw"), "BENCH_MODEL": MODEL, "BENCH_MAX_TOKENS": str(cfg.tokens)}
    return ["-f", str(ROOT / "benchmarks" / "locustfiles" / "handwritten.py")], env


def handwritten_report(cfg: Config, tmp: Path) -> ClientReport:
    ttft: list[float] = []
    steady: list[float] = []  # each process's list is in time order: drop its first wave
    chunks = requests = started = 0
    paths = list(tmp.glob("hw.*.json"))
    for path in paths:
        data = json.loads(path.read_text())
        ttft += data["ttft_ms"]
        steady += data["ttft_ms"][cfg.users // max(1, len(paths)) :]
        chunks += data["chunks"]
        requests += data["requests"]
        started += data["started"]
    if not ttft and not chunks:
        raise RuntimeError("handwritten client wrote no results")
    cancelled = started - requests  # streams cut off by the stop
    p50, p99 = nearest_rank(ttft, 50), nearest_rank(ttft, 99)
    return ClientReport(chunks, requests, cancelled, p50, p99, nearest_rank(steady, 99))


def llm_load_args(cfg: Config, tmp: Path) -> tuple[list[str], dict[str, str]]:
    args = ["-f", str(ROOT / "locustfiles" / "chat.py"), "--model", MODEL, *cfg.llm_args]
    args += ["--max-tokens", str(cfg.tokens), "--llm-json", str(tmp / "llm.json")]
    return [*args, "--llm-requests", str(tmp / "rows.jsonl")], {}


def llm_load_greenlet_args(cfg: Config, tmp: Path) -> tuple[list[str], dict[str, str]]:
    args, env = llm_load_args(cfg, tmp)
    return [*args, "--stream-reader", "greenlet"], env


def llm_load_readtime_args(cfg: Config, tmp: Path) -> tuple[list[str], dict[str, str]]:
    args, _ = llm_load_args(cfg, tmp)
    return args, {"LLM_LOAD_KERNEL_STAMPS": "0"}


def llm_load_report(cfg: Config, tmp: Path) -> ClientReport:
    path = tmp / "llm.json"
    if not path.exists():
        raise RuntimeError("llm-load client wrote no --llm-json summary")
    totals = json.loads(path.read_text())["totals"]
    ttft = totals["ttft_ms"]
    rows = [json.loads(line) for line in (tmp / "rows.jsonl").read_text().splitlines()]
    done = sorted((r["ts"], r["ttft_ms"]) for r in rows if r["status"] == "ok")
    steady = [t for _, t in done[cfg.users :] if t is not None]  # without the first wave
    return ClientReport(
        totals["output_tokens"],
        totals["requests"],
        totals["cancelled"],
        ttft["p50"],
        ttft["p99"],
        nearest_rank(steady, 99) if steady else None,
        [r["ts"] for r in rows],
    )


ClientSpec = tuple[
    Callable[[Config, Path], tuple[list[str], dict[str, str]]],
    Callable[[Config, Path], ClientReport],
]
CLIENTS: dict[str, ClientSpec] = {
    "handwritten": (handwritten_args, handwritten_report),
    "llm-load": (llm_load_args, llm_load_report),
    "llm-load-greenlet": (llm_load_greenlet_args, llm_load_report),
    "llm-load-readtime": (llm_load_readtime_args, llm_load_report),
}
DEFAULT_CLIENTS = "handwritten,llm-load"


# -- running one client --------------------------------------------------------------------
def locust_command(cfg: Config, mock: MockProcess, client_args: list[str]) -> list[str]:
    cmd = [shutil.which("locust") or "locust", *client_args, "--headless", "-H", mock.base_url]
    cmd += ["-u", str(cfg.users), "-r", str(cfg.users), "-t", f"{cfg.duration:g}s"]
    cmd += ["--only-summary", "--loglevel", "WARNING"]
    if cfg.processes > 1:
        cmd += ["--processes", str(cfg.processes)]
    elif cfg.pinned:
        cmd = ["taskset", "-c", str(cfg.client_cpu), *cmd]
    return cmd


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the client's process group, then SIGKILL what is left after 5 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_process(
    cmd: list[str], env: dict[str, str], log: Path, limit_s: float
) -> tuple[list[Sample], int, float]:
    """Run the client to its end (killed after ``limit_s``), polling its process tree;
    return the polls, the exit code and the ``perf_counter`` time it ended."""
    samples: list[Sample] = []
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, **env}, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + limit_s
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"client still running after {limit_s:g}s: {cmd}")
                samples.append(sample_tree(proc.pid))
                time.sleep(POLL_S)
        finally:
            kill_group(proc)
    if proc.returncode not in (0, 1):  # 1: Locust saw failed requests; still measured
        raise RuntimeError(f"client exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
    return samples, proc.returncode, time.perf_counter()


def cpu_at(samples: list[Sample], t: float | None) -> float:
    """Client CPU seconds at perf_counter time ``t`` (the last poll not after it)."""
    if t is None:
        return 0.0
    before = [s.cpu_s for s in samples if s.t <= t]
    return before[-1] if before else 0.0


def measure(name: str, cfg: Config, mock: MockProcess, tmp: Path) -> Result:
    """Run one client against the (reset) mock and compute its row."""
    make_args, read_report = CLIENTS[name]
    client_args, env = make_args(cfg, tmp)
    mock.reset()
    mock_cpu0, cpu0, ticks0 = cpu_seconds(mock.proc.pid), children_cpu_s(), cpu_ticks()
    t0 = time.perf_counter()
    cmd = locust_command(cfg, mock, client_args)
    samples, code, end_t = run_process(cmd, env, tmp / f"{name}.log", cfg.duration + 60.0)
    cpu_s = children_cpu_s() - cpu0
    mock_cpu, (busy, busy_s) = cpu_seconds(mock.proc.pid) - mock_cpu0, busy_since(ticks0)
    background = (busy_s - cpu_s - mock_cpu) / (end_t - t0)
    truth = truth_summary(mock.stats(), cfg.users)
    report = read_report(cfg, tmp)
    return build_result(
        name, cfg, report, truth,
        {"wall": end_t - t0, "end": end_t, "code": code, "cpu": cpu_s},
        {"mock_cpu": mock_cpu, "busy": busy, "background": background},
        samples,
    )  # fmt: skip


def build_result(
    name: str,
    cfg: Config,
    report: ClientReport,
    truth: dict[str, Any],
    run: dict[str, Any],
    env: dict[str, Any],
    samples: list[Sample],
) -> Result:
    first = truth["first_at"]
    lags = delivery_lags_ms(report.sent_epoch_s, truth["received"])
    load_wall = run["end"] - first if first is not None else run["wall"]
    load_cpu = run["cpu"] - cpu_at(samples, first)
    itl = truth["itl_mean"]
    mock_share = env["mock_cpu"] / load_wall if load_wall > 0 else 0.0
    return Result(
        client=name, users=cfg.users, processes=cfg.processes, pinned=cfg.pinned,
        exit_code=run["code"], wall_s=run["wall"], load_wall_s=load_wall,
        cpu_s=run["cpu"], load_cpu_s=load_cpu, chunks=report.chunks,
        requests=report.requests, cancelled=report.cancelled,
        chunks_per_core_s=report.chunks / run["cpu"] if run["cpu"] else 0.0,
        load_chunks_per_core_s=report.chunks / load_cpu if load_cpu > 0 else 0.0,
        chunks_per_s=report.chunks / load_wall if load_wall > 0 else 0.0,
        peak_rss_mib=max((s.hwm_kib for s in samples), default=0) / 1024,
        ttft_p50=report.ttft_p50, ttft_p99=report.ttft_p99,
        truth_ttft_p50=truth["p50"], truth_ttft_p99=truth["p99"],
        ttft_err_p50=diff(report.ttft_p50, truth["p50"]),
        ttft_err_p99=diff(report.ttft_p99, truth["p99"]),
        steady_ttft_p99=report.steady_p99, truth_steady_ttft_p99=truth["steady_p99"],
        steady_ttft_err_p99=diff(report.steady_p99, truth["steady_p99"]),
        delivery_p50=nearest_rank(lags, 50), delivery_p99=nearest_rank(lags, 99),
        truth_requests=truth["count"], truth_tokens=truth["tokens"], truth_itl_ms_mean=itl,
        mock_cpu_share=mock_share, mock_late=lateness(cfg, truth, mock_share),
        background_cores=env["background"], cpu_busy=env["busy"],
        loadavg=os.getloadavg(),
    )  # fmt: skip


def lateness(cfg: Config, truth: dict[str, Any], mock_share: float) -> str:
    """Why the mock was late (empty if it kept its schedule)."""
    reasons = []
    itl, p50, p99 = truth["itl_mean"], truth["p50"], truth["p99"]
    if itl is None or itl > cfg.itl_ms * 1.05:
        reasons.append("ITL mean")
    if p50 is None or p50 > cfg.ttft_ms * 1.1:
        reasons.append("TTFT p50")
    if p99 is None or p99 > cfg.ttft_ms * 1.5:
        reasons.append("TTFT p99")
    if mock_share > 0.9:
        reasons.append("CPU>90%")
    return ",".join(reasons)


# -- output --------------------------------------------------------------------------------
def fmt(value: Any, spec: str) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, dict):
        return " ".join(f"{k[3:]}:{v:.0%}" for k, v in sorted(value.items()))
    if isinstance(value, tuple):
        return "/".join(f"{v:.1f}" for v in value)
    return format(value, spec)


ROWS: tuple[tuple[str, str, str], ...] = (
    ("requests completed", "requests", "d"),
    ("cancelled (cut at stop)", "cancelled", "d"),
    ("SSE content chunks taken in", "chunks", ",d"),
    ("chunks/s over the load", "chunks_per_s", ",.0f"),
    ("client CPU s, whole process", "cpu_s", ".2f"),
    ("client CPU s, load only", "load_cpu_s", ".2f"),
    ("chunks / client core-s (whole)", "chunks_per_core_s", ",.0f"),
    ("chunks / client core-s (load)", "load_chunks_per_core_s", ",.0f"),
    ("client peak RSS MiB", "peak_rss_mib", ".0f"),
    ("client TTFT p50 ms", "ttft_p50", ".1f"),
    ("truth TTFT p50 ms", "truth_ttft_p50", ".1f"),
    ("TTFT error p50 ms", "ttft_err_p50", "+.1f"),
    ("client TTFT p99 ms", "ttft_p99", ".1f"),
    ("truth TTFT p99 ms", "truth_ttft_p99", ".1f"),
    ("TTFT error p99 ms", "ttft_err_p99", "+.1f"),
    ("client TTFT p99, no 1st wave", "steady_ttft_p99", ".1f"),
    ("truth TTFT p99, no 1st wave", "truth_steady_ttft_p99", ".1f"),
    ("TTFT error p99, no 1st wave", "steady_ttft_err_p99", "+.1f"),
    ("request delivery p50 ms (est.)", "delivery_p50", "+.1f"),
    ("request delivery p99 ms (est.)", "delivery_p99", "+.1f"),
    ("truth completed requests", "truth_requests", "d"),
    ("truth tokens written (all)", "truth_tokens", ",d"),
    ("truth ITL mean ms", "truth_itl_ms_mean", ".2f"),
    ("mock CPU share (1 core)", "mock_cpu_share", ".0%"),
    ("mock late? (what)", "mock_late", ""),
    ("CPU busy (everyone)", "cpu_busy", ""),
    ("other processes, cores busy", "background_cores", ".2f"),
    ("loadavg 1/5/15 at end", "loadavg", ""),
)


def print_table(results: list[Result], cfg: Config) -> None:
    if cfg.pinned:
        pin = f"client pinned to CPU {cfg.client_cpu}"
    elif cfg.processes > 1:
        pin = (
            f"client NOT pinned (--processes {cfg.processes}: its processes share both CPUs "
            "with the mock; client CPU = sum over its processes)"
        )
    else:
        pin = "client NOT pinned (taskset not found)"
    print(
        f"\n{cfg.users} users (-r {cfg.users}), {cfg.duration:g}s, mock on CPU {cfg.mock_cpu} "
        f"(--ttft-ms {cfg.ttft_ms:g} --itl-ms {cfg.itl_ms:g} --tokens {cfg.tokens}); {pin}"
    )
    width = max(len(r[0]) for r in ROWS)
    print(f"{'':<{width}}  " + "  ".join(f"{r.client:>22}" for r in results))
    for label, attr, spec in ROWS:
        cells = [fmt(getattr(r, attr), spec) for r in results]
        print(f"{label:<{width}}  " + "  ".join(f"{c:>22}" for c in cells))
    print()
    print_verdict(results, cfg)


def ratios(results: list[Result]) -> dict[str, float] | None:
    by = {r.client: r for r in results}
    base = by.get("handwritten")
    if base is None or not base.chunks_per_core_s or not base.load_chunks_per_core_s:
        return None
    return {
        f"{name}/{kind}": getattr(r, attr) / getattr(base, attr)
        for name, r in by.items()
        if name != "handwritten"
        for kind, attr in (("load", "load_chunks_per_core_s"), ("whole", "chunks_per_core_s"))
    }


def print_verdict(results: list[Result], cfg: Config) -> None:
    ratio = ratios(results) or {}
    for r in results:
        if f"{r.client}/load" in ratio:
            print(
                f"{r.client} / handwritten, chunks per client core-second: "
                f"{ratio[r.client + '/load']:.2f}x (load CPU), "
                f"{ratio[r.client + '/whole']:.2f}x (whole process)"
            )
    for r in results:
        if r.mock_late:
            print(
                f"WARNING [{r.client}]: the mock was late ({r.mock_late}; truth ITL mean "
                f"{fmt(r.truth_itl_ms_mean, '.2f')} ms vs {cfg.itl_ms:g} ms, TTFT p50/p99 "
                f"{fmt(r.truth_ttft_p50, '.1f')}/{fmt(r.truth_ttft_p99, '.1f')} ms vs "
                f"{cfg.ttft_ms:g} ms, mock CPU {r.mock_cpu_share:.0%}): the server, not only the "
                "client, limited this run"
            )


# -- main ----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> tuple[Config, Path | None]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--users", type=int, default=256, help="Locust users = concurrent streams")
    p.add_argument("--duration", type=float, default=20.0, help="Locust run time per client, s")
    p.add_argument("--tokens", type=int, default=128, help="tokens per reply (mock and clients)")
    p.add_argument("--processes", type=int, default=1, help="Locust --processes (>1: unpinned)")
    p.add_argument(
        "--only", default=DEFAULT_CLIENTS, help=f"clients, comma-separated, of {list(CLIENTS)}"
    )
    p.add_argument("--llm-args", default="", help="extra Locust args for the llm-load clients")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    a = p.parse_args(argv)
    clients = tuple(c.strip() for c in a.only.split(",") if c.strip())
    unknown = [c for c in clients if c not in CLIENTS]
    if unknown or not clients:
        p.error(f"--only: unknown client(s) {unknown}; choose from {list(CLIENTS)}")
    llm_args = tuple(shlex.split(a.llm_args))
    return Config(a.users, a.duration, a.tokens, a.processes, clients, llm_args), a.json


def revision() -> str:
    """The project's git commit (``-dirty`` with local changes): the code that was measured."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


@contextlib.contextmanager
def started_mock(cfg: Config) -> Iterator[MockProcess]:
    args = ("--ttft-ms", f"{cfg.ttft_ms:g}", "--itl-ms", f"{cfg.itl_ms:g}")
    with spawn_mock(*args, "--tokens", str(cfg.tokens), cpu=cfg.mock_cpu) as mock:
        yield mock


def main(argv: list[str] | None = None) -> int:
    cfg, json_path = parse_args(argv)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rev = revision()
    print(f"llm-load at {rev}; loadavg before: {fmt(os.getloadavg(), '')}", flush=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="client_overhead.") as tmp, started_mock(cfg) as mock:
        for name in cfg.clients:
            results.append(measure(name, cfg, mock, Path(tmp)))
            r = results[-1]
            print(f"  {name}: {r.chunks:,} chunks, {r.cpu_s:.1f} CPU s", flush=True)
    print_table(results, cfg)
    if json_path:
        doc = {"revision": rev, "config": asdict(cfg), "results": [asdict(r) for r in results]}
        json_path.write_text(json.dumps({**doc, "ratio": ratios(results)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
