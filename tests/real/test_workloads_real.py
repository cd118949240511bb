"""Workloads against real servers: token-exact prompts and exact outputs on vLLM and
llama.cpp (every request's usage says exactly what was asked for), prefix-cache hits on vLLM,
a trace replayed on schedule (one process, and a 60-second one on a master + 2 workers).

Servers come from ../shared/servers/*.sh (found beside the repository or one level up),
installed into LLM_LOAD_LLAMA_VENV / LLM_LOAD_VLLM_VENV (default: .venv-llama / .venv-vllm in
the repository) and started on a free port for this module only.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import load
from tests.integration.test_scenarios import cli
from tests.real.conftest import free_port

pytestmark = [pytest.mark.real, pytest.mark.timeout(1800)]
ROOT = Path(__file__).resolve().parents[2]
SERVERS = next(
    (
        p / "shared" / "servers"
        for p in (ROOT.parent, ROOT.parent.parent)
        if (p / "shared").is_dir()
    ),
    ROOT.parent / "shared" / "servers",
)


PREFIX_COUNTERS = ("vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total")


class Server:
    """One real server started by its script; `base_url` without /v1."""

    def __init__(self, kind: str, model: str, **env: str) -> None:
        self.kind, self.model, self.port = kind, model, free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        prefix = kind.upper()
        venv = os.environ.get(f"LLM_LOAD_{prefix}_VENV", str(ROOT / f".venv-{kind}"))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(prefix + "_")},
            f"{prefix}_VENV": venv,
            f"{prefix}_PORT": str(self.port),
            **env,
        }
        self.script = SERVERS / f"{'llama' if kind == 'llama' else 'vllm'}-server.sh"

    def __call__(self, action: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(self.script), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1500,
        )


def serve(server: Server) -> Iterator[Server]:
    if not server.script.is_file():
        pytest.skip(f"real-server tests need {server.script}")
    started = server("start")
    if started.returncode != 0:
        pytest.fail(f"{server.kind} did not start:\n{started.stderr[-4000:]}")
    try:
        yield server
    finally:
        server("stop")


@pytest.fixture(scope="module")
def vllm() -> Iterator[Server]:
    extra = "--enable-prefix-caching --enable-prompt-tokens-details"
    yield from serve(Server("vllm", "tiny-llama", VLLM_MAX_NUM_SEQS="4", VLLM_EXTRA_ARGS=extra))


@pytest.fixture(scope="module")
def llama() -> Iterator[Server]:
    yield from serve(Server("llama", "gemma-3-270m", LLAMA_PARALLEL="2"))


def run_scenario(
    tmp_path: Path, server: Server, load_: dict | None = None, **fields: object
) -> tuple[dict, list[dict]]:
    """(summary, per-request rows) of a short headless scenario run against `server`."""
    data = {
        "name": "real",
        "models": [{"name": server.model}],
        "load": load_ or {"users": 2, "spawn_rate": 2, "run_time": "10s"},
        **fields,
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    summary, rows = tmp_path / "summary.json", tmp_path / "rows.jsonl"
    args = ("--headless", "-H", server.base_url, "--llm-json", str(summary))
    proc = cli("run", str(path), *args, "--llm-requests", str(rows), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = rows.read_text().splitlines()
    return load(summary), [r for r in map(json.loads, lines) if r["status"] == "ok"]


def exact_lengths(
    tmp_path: Path, server: Server, n_in: int, n_out: int, load_: dict | None = None
) -> dict:
    """Every finished request used exactly `n_in` prompt and `n_out` output tokens."""
    s, rows = run_scenario(
        tmp_path,
        server,
        load_,
        prompts={"synthetic": {"input_tokens": {"fixed": n_in}}},
        output={"tokens": {"fixed": n_out}, "exact": True},
    )
    assert rows and all(not r["usage_estimated"] for r in rows)
    assert {(r["requested_input_tokens"], r["input_tokens"]) for r in rows} == {(n_in, n_in)}
    assert {r["output_tokens"] for r in rows} == {n_out}
    drift = s["totals"]["input_tokens_drift"]
    assert drift["checked"] == drift["exact"] == len(rows) and not drift["drift"]
    print(server.kind, s["tokenizer"], f"{len(rows)} requests: {n_in} in / {n_out} out each")
    return s


def test_vllm_prompts_and_outputs_are_token_exact(tmp_path, vllm):
    s = exact_lengths(tmp_path, vllm, 300, 50)
    assert s["tokenizer"]["source"] == "server /tokenize (vllm)"


def test_llama_prompts_and_outputs_are_token_exact(tmp_path, llama):
    # llama.cpp on 2 busy shared CPU cores took up to ~45 s a request: one user, longer
    s = exact_lengths(tmp_path, llama, 300, 50, {"users": 1, "spawn_rate": 1, "run_time": "90s"})
    assert s["tokenizer"]["source"] == "server /tokenize (llama.cpp)"


def vllm_counter(server: Server, name: str) -> float:
    """A counter of vLLM's /metrics, summed over its labels."""
    text = urllib.request.urlopen(server.base_url + "/metrics", timeout=10).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def test_vllm_prefix_cache_hits_match_its_own_counters(tmp_path, vllm):
    before = {n: vllm_counter(vllm, n) for n in PREFIX_COUNTERS}
    s, rows = run_scenario(
        tmp_path,
        vllm,
        prompts={"synthetic": {"input_tokens": {"fixed": 64}}},
        prefix={"groups": 2, "tokens": 512},
        output={"tokens": {"fixed": 8}, "exact": True},
    )
    after = {n: vllm_counter(vllm, n) for n in PREFIX_COUNTERS}
    hits, queries = (after[n] - before[n] for n in PREFIX_COUNTERS)
    cache = s["totals"]["prefix_cache"]
    assert {r["input_tokens"] for r in rows} == {576}
    assert cache["hits"] >= len(rows) - 2 > 0 and s["totals"]["cached_tokens"] > 0
    # the server's counters also saw the tokenizer's probes and requests cut at the stop
    print(f"vLLM prefix cache: ours {cache}, server's hits/queries {hits:.0f}/{queries:.0f}")
    assert cache["hit_ratio"] == pytest.approx(hits / queries, abs=0.05)


def test_vllm_replays_a_trace_on_schedule_with_exact_lengths(tmp_path, vllm):
    shutil.copy(ROOT / "scenarios" / "data" / "trace_sample.jsonl", tmp_path / "trace.jsonl")
    s, rows = run_scenario(
        tmp_path,
        vllm,
        {"users": 16, "spawn_rate": 16, "run_time": "20s"},
        trace={"file": "trace.jsonl", "time_scale": 1.0, "block_tokens": 128},
        output={"exact": True},
    )
    arrivals, drift = s["arrivals"], s["totals"]["input_tokens_drift"]
    print(f"vLLM trace: {arrivals}, drift {drift}, cache {s['totals'].get('prefix_cache')}")
    assert arrivals["arrival"] == "trace" and arrivals["dropped"] == 0
    assert arrivals["sent"] == 60 == len(rows) and drift["exact"] == drift["checked"] == 60
    assert arrivals["schedule_lag_ms"]["p50"] < 20
    assert s["totals"]["prefix_cache"]["hits"] > 0


def test_vllm_serves_a_growing_conversation_from_its_prefix_cache(tmp_path, vllm):
    s, rows = run_scenario(
        tmp_path,
        vllm,
        {"users": 2, "spawn_rate": 2, "run_time": "10s"},
        prompts={"synthetic": {"input_tokens": {"fixed": 128}}},
        output={"tokens": {"fixed": 16}, "exact": True},
        multi_turn={"turns": 3},
    )
    by_turn = s["by_turn"]
    print("vLLM conversation by turn:", json.dumps(by_turn))
    assert list(by_turn) == ["1", "2", "3"] and by_turn["3"]["requests"] > 0
    later = [r for r in rows if r["turn"] > 1]
    # the history resent: at least the first turn's 128 tokens cached (vLLM's CPU build
    # caches whole blocks of 128 tokens: a 64-token first turn fills none, measured)
    assert later and all(r["cached_tokens"] >= 128 for r in later)
    means = [by_turn[t]["cached_tokens_mean"] for t in ("1", "2", "3")]
    assert means[0] < means[1] < means[2]
    assert by_turn["1"]["input_tokens_mean"] < by_turn["3"]["input_tokens_mean"]


def write_trace(path: Path, seconds: float = 60.0, rate_per_s: float = 1.5) -> Counter:
    """A seeded Mooncake JSONL trace: Poisson arrivals over `seconds`, small lengths (so a
    CPU vLLM keeps up); returns its (input, output) lengths."""
    rng = random.Random(17)
    lines, t = [], 0.0
    while t < seconds:
        entry = {"timestamp": round(t * 1000), "input_length": rng.randint(32, 160)}
        entry["output_length"] = rng.randint(8, 24)
        lines.append(json.dumps(entry))
        t += rng.expovariate(rate_per_s)
    path.write_text("\n".join(lines) + "\n")
    entries = map(json.loads, lines)
    return Counter((e["input_length"], e["output_length"]) for e in entries)


@pytest.mark.timeout(300)
def test_vllm_60s_trace_on_two_workers_keeps_its_schedule(tmp_path, vllm):
    """A 60-second trace split over a master and 2 workers: every request sent once, within
    a few ms of its schedule, none dropped, each served (vLLM's own success counter)."""
    from tests.integration.test_distributed import cluster
    from tests.integration.test_scenario_distributed import SCENARIO_LOCUSTFILE, finish

    lengths = write_trace(tmp_path / "trace.jsonl")
    n = lengths.total()
    data = {
        "name": "trace-60s",
        "models": [{"name": vllm.model}],
        "trace": {"file": "trace.jsonl", "time_scale": 1.0},
        "output": {"exact": True},
        "load": {"users": 16, "spawn_rate": 16},
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    summary_path, rows = tmp_path / "summary.json", tmp_path / "rows.jsonl"
    before = vllm_counter(vllm, "vllm:request_success_total")
    # 70 s: the last request (< 60 s in) must finish before the stop, on a slow busy server
    master, workers = cluster(
        vllm.base_url, summary_path, 2, 32, "70s", "--scenario", str(path),
        "--model", vllm.model, "--llm-requests", str(rows), locustfile=SCENARIO_LOCUSTFILE,
    )  # fmt: skip
    _, err = finish(master, workers, timeout=150)
    assert master.returncode == 0, err[-3000:]
    served = vllm_counter(vllm, "vllm:request_success_total") - before
    s = load(summary_path)
    arrivals, totals, lag = s["arrivals"], s["totals"], s["arrivals"]["schedule_lag_ms"]
    print(
        f"\nvLLM 60 s trace, 2 workers: {n} scheduled, sent {arrivals['sent']}, late "
        f"{arrivals['late']} (> {arrivals['late_ms']} ms), dropped {arrivals['dropped']}; lag ms "
        f"p50 {lag['p50']:.2f} p90 {lag['p90']:.2f} p99 {lag['p99']:.2f} max {lag['max']:.2f}; "
        f"requests {totals['requests']}, failures {totals['failures']}, cancelled "
        f"{totals['cancelled']}; vLLM request_success +{served:.0f}"
    )
    assert arrivals["arrival"] == "trace" and s["workers_lost"] == 0
    assert arrivals["sent"] == arrivals["scheduled"] == n and arrivals["dropped"] == 0
    assert totals["requests"] == n and totals["failures"] == totals["cancelled"] == 0
    # the server saw each request once, plus each worker's 2 template probes (--tokenizer)
    assert served == n + 2 * 2
    ok = [json.loads(line) for line in rows.read_text().splitlines()]
    assert len({r["worker"] for r in ok}) == 2  # both workers sent their share
    assert Counter((r["input_tokens"], r["output_tokens"]) for r in ok) == lengths  # each once
    # a busy shared 2-core machine with vLLM on it: the median within a few ms, the tail < 250
    assert lag["p50"] < 10 and lag["p99"] < 250, lag
