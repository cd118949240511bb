"""`--server-metrics` and per-request server timings against real llama.cpp and vLLM.

Each server runs with 2 generation slots. One short run at 6 users (3x the slots) with
`--stop-timeout`, so every request finishes inside the run window: the server's generated
token delta then equals our output tokens (within 1 %), requests queue on the server
(waiting > 0) while at most 2 run, and every response's server timings give `outside_ms`.
A run at 1 user shows the low-load split. The TTFT split of both runs is printed (-s).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import load, short_run
from tests.real.servers_metrics import RealServer, serve

pytestmark = [pytest.mark.real, pytest.mark.timeout(900)]


@pytest.fixture(scope="module", params=["llama", "vllm"])
def server(request: pytest.FixtureRequest) -> Iterator[RealServer]:
    with serve(request.param, slots=2) as running:
        yield running


def run(server: RealServer, path: Path, users: int, run_time: str) -> dict:
    # Small replies and patient timeouts: on a busy 2-core machine llama.cpp can drop to a
    # few tokens/s, and a request queued behind both slots sends no byte until it has one.
    # Exactly 8 tokens: a random-weight model may end a reply at once (an empty response).
    proc = short_run(
        server.base_url, path, "--server-metrics", "--max-tokens", "8", "--exact-output",
        "--stop-timeout", "300",
        "--request-timeout", "300", users=users, run_time=run_time,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = load(path)
    split = summary["server"].get("ttft_split")
    print(f"\n{server.kind} at {users} users: {split}")
    return summary


def test_counts_queue_and_outside_time_against_the_real_server(server, tmp_path):
    s = run(server, tmp_path / "high.json", users=3 * server.slots, run_time="8s")
    ours, theirs = s["totals"], s["server"]
    assert theirs["family"] == ("llamacpp" if server.kind == "llama" else "vllm")
    assert theirs["scrape_errors"]["count"] == 0
    assert ours["cancelled"] == 0 and ours["failures"] == 0 and ours["requests"] > server.slots
    generated = theirs["totals"]["generated_tokens"]
    assert abs(generated - ours["output_tokens"]) <= 0.01 * ours["output_tokens"], (
        generated,
        ours["output_tokens"],
    )
    # More users than slots: at most `slots` run, the rest wait, on the server's own account.
    assert theirs["series"]["running"]["max"] == server.slots
    assert theirs["series"]["waiting"]["max"] >= 1
    # Every response carried the server's timings.
    assert ours["outside_ms"]["count"] == ours["requests"]
    assert ours["outside_ms"]["p50"] > 0
    assert theirs["ttft_split"]["source"] == "per-request"
    if server.kind == "vllm":  # vLLM says its queue time; its TTFT histogram counts it too
        assert ours["server_queue_ms"]["count"] == ours["requests"]
        assert theirs["totals"]["ttft_ms"]["count"] == ours["requests"]


def test_low_load_split(server, tmp_path):
    s = run(server, tmp_path / "low.json", users=1, run_time="5s")
    ours = s["totals"]
    assert ours["outside_ms"]["count"] == ours["requests"] > 0
    assert s["server"]["series"]["waiting"]["max"] == 0
