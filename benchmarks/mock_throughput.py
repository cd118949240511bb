"""Throughput of the embedded mock server: SSE chunks/s it delivers on one core.

The mock runs pinned to one CPU (``--mock-cpu``); this process drives it from another CPU
(``--client-cpu``) with N concurrent keep-alive streaming connections built on a minimal
``asyncio.Protocol`` client that only counts ``data: `` events. For each N it reports the SSE
events/s delivered, the mock's CPU time (``/proc/<pid>/stat``), events per mock core-second, and
the mock's own ground-truth TTFT/ITL versus the configured values (lateness under load).

    python benchmarks/mock_throughput.py                      # uvloop and --no-uvloop, N=64,256,512
    python benchmarks/mock_throughput.py --conns 1024 --duration 5 --loops uvloop
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_load.mock.process import MockProcess, spawn_mock

TERMINATOR = b"\r\n0\r\n\r\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One measurement."""

    loop: str
    conns: int
    events_per_s: float
    tokens_per_s: float
    mock_cpu_s: float
    mock_util: float
    mock_runq: float
    events_per_core_s: float
    ttft_ms: float
    itl_ms: float
    replies: int


class Counter:
    """Shared counters of all client connections."""

    def __init__(self) -> None:
        self.events = 0
        self.replies = 0
        self.stop = False


class StreamClient(asyncio.Protocol):
    """Keep-alive client: sends the request, counts events, re-sends after each reply."""

    def __init__(self, request: bytes, counter: Counter) -> None:
        self.request, self.counter = request, counter
        self.tail = b""  # last 5 bytes: a `data: ` split across reads is counted once
        self.end = b""  # last 7 bytes: detects the chunked terminator
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        buf = self.tail + data
        self.counter.events += buf.count(b"data: ")
        self.tail = buf[-5:]
        self.end = (self.end + data)[-7:]
        if self.end == TERMINATOR:
            self.counter.replies += 1
            self.tail = self.end = b""
            if not self.counter.stop and self.transport is not None:
                self.transport.write(self.request)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def runq_wait_seconds(pid: int) -> float:
    """Time the process spent runnable but waiting for a CPU (other load on its core)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def build_request(tokens: int) -> bytes:
    body = json.dumps(
        {
            "model": "mock-llm",
            "messages": [{"role": "user", "content": "Benchmark prompt " * 8}],
            "max_tokens": tokens,
            "stream": True,
        }
    ).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def drive(mock: MockProcess, conns: int, args: argparse.Namespace) -> tuple[Counter, dict]:
    """Run ``conns`` clients for warmup + duration; return counters and window deltas."""
    loop = asyncio.get_running_loop()
    counter = Counter()
    request = build_request(args.tokens)
    transports = []
    for _ in range(conns):
        transport, _ = await loop.create_connection(
            lambda: StreamClient(request, counter), "127.0.0.1", mock.port
        )
        transports.append(transport)
    await asyncio.sleep(args.warmup)
    pid = mock.proc.pid
    e0, r0, t0 = counter.events, counter.replies, time.perf_counter()
    c0, q0 = cpu_seconds(pid), runq_wait_seconds(pid)
    await asyncio.sleep(args.duration)
    e1, r1, t1 = counter.events, counter.replies, time.perf_counter()
    c1, q1 = cpu_seconds(pid), runq_wait_seconds(pid)
    counter.stop = True
    for transport in transports:
        transport.abort()
    window = {"events": e1 - e0, "replies": r1 - r0, "cpu": c1 - c0, "runq": q1 - q0}
    window["wall"] = t1 - t0
    return counter, window


def truth_means(mock: MockProcess) -> tuple[float, float]:
    """Mean TTFT and mean ITL (ms) of the completed streams, from the mock's ground truth."""
    records = [r for r in mock.stats()["requests"] if r["completed"] and r["itl_ms_mean"]]
    if not records:
        return float("nan"), float("nan")
    ttft = statistics.fmean(r["ttft_ms"] for r in records)
    return ttft, statistics.fmean(r["itl_ms_mean"] for r in records)


def measure(mock: MockProcess, loop_name: str, conns: int, args: argparse.Namespace) -> Row:
    mock.reset()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        _, win = runner.run(drive(mock, conns, args))
    time.sleep(0.3)  # let the mock process the disconnects before reading /stats
    ttft, itl = truth_means(mock)
    events_s = win["events"] / win["wall"]
    return Row(
        loop=loop_name,
        conns=conns,
        events_per_s=events_s,
        tokens_per_s=(win["events"] - 3 * win["replies"]) / win["wall"],
        mock_cpu_s=win["cpu"],
        mock_util=win["cpu"] / win["wall"],
        mock_runq=win["runq"] / win["wall"],
        events_per_core_s=win["events"] / win["cpu"] if win["cpu"] else float("nan"),
        ttft_ms=ttft,
        itl_ms=itl,
        replies=win["replies"],
    )


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the client when available."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print(
        f"\nmock: --ttft-ms {args.ttft_ms} --itl-ms {args.itl_ms} --tokens {args.tokens}, "
        f"{args.duration:g}s window after {args.warmup:g}s warm-up"
    )
    head = (
        f"{'loop':<8} {'conns':>5} {'events/s':>9} {'tokens/s':>9} {'mock cpu':>8} {'runq':>5} "
        f"{'events/core-s':>13} {'TTFT ms':>8} {'ITL ms':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.loop:<8} {r.conns:>5} {r.events_per_s:>9.0f} {r.tokens_per_s:>9.0f} "
            f"{r.mock_util:>8.0%} {r.mock_runq:>5.0%} {r.events_per_core_s:>13.0f} "
            f"{r.ttft_ms:>8.2f} {r.itl_ms:>7.2f}"
        )
    print(
        f"(configured: TTFT {args.ttft_ms} ms, ITL {args.itl_ms} ms; mock cpu = share of one core "
        "used; runq = share of time the mock was runnable but waiting for its core)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--conns", default="64,256,512", help="comma-separated connection counts")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per N")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per N")
    p.add_argument("--loops", default="uvloop,asyncio", help="mock event loops to measure")
    p.add_argument("--ttft-ms", type=float, default=10.0)
    p.add_argument("--itl-ms", type=float, default=5.0)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--mock-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {args.client_cpu})
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    timing = ("--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms))
    rows = []
    for loop_name in args.loops.split(","):
        extra = ("--no-uvloop",) if loop_name == "asyncio" else ()
        mock_args = (*timing, "--tokens", str(args.tokens), *extra)
        with spawn_mock(*mock_args, cpu=args.mock_cpu) as mock:
            for conns in (int(c) for c in args.conns.split(",")):
                rows.append(measure(mock, loop_name, conns, args))
                print(f"  {loop_name} N={conns}: {rows[-1].events_per_s:,.0f} events/s", flush=True)
    print_table(rows, args)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
