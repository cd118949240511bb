"""`llm-load run -H URL` with workload flags and no scenario file, against the mock's truth:
token-exact synthetic prompts and exact outputs (one process, and `--processes 2`), a
dataset's prompts, a trace's schedule, and `--print-scenario` output that loads as a file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from llm_load.core.scenario.schema import load_scenario
from llm_load.mock.process import spawn_mock
from llm_load.mock.truth import history_digests
from tests.conftest import ROOT, clean_env, load
from tests.integration.test_distributed import free_port
from tests.integration.test_workloads import mock_tokens

pytestmark = pytest.mark.timeout(120)
MOCK = ("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "3")
DATA = ROOT / "scenarios" / "data"


def llm_load_run(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`llm-load run ARGS --headless` in its own session (a --processes run's forked workers
    die with it), with TMPDIR in `tmp_path/tmp` to see the temporary scenario go away."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "llm_load.cli", "run", *args, "--headless"]
    cmd += ["--", "--loglevel", "WARNING"]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=clean_env(TMPDIR=str(tmp)), text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):  # anything left of its session
            os.killpg(proc.pid, signal.SIGKILL)
    assert list(tmp.iterdir()) == []  # the temporary scenario is removed
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.parametrize("processes", [0, 2])
def test_token_exact_flags_give_every_request_its_tokens(tmp_path, summary_path, processes):
    """The issue's example, without --model (the mock's first model) and without YAML."""
    extra: tuple[str, ...] = ()
    if processes:
        port = str(free_port())
        extra = ("--processes", str(processes), "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", port, "--master-port", port)  # fmt: skip
    with spawn_mock(*MOCK) as mock:
        proc = llm_load_run(
            tmp_path, "-H", mock.base_url, "--input-tokens", "64", "--output-tokens", "8",
            "--exact-output", "--tokenizer", "server", "-u", "2", "-r", "2", "-t", "3s",
            "--llm-json", str(summary_path), *extra,
        )  # fmt: skip
        truth = [r for r in mock.stats()["requests"] if r["completed"]]
    assert proc.returncode == 0, proc.stderr[-3000:]
    traffic = [r for r in truth if r["tokens"] != 1]  # not the template probes
    assert len(truth) - len(traffic) == 2 * max(1, processes)  # 2 probes per sending process
    assert Counter(mock_tokens(r["prompt_chars"]) for r in traffic) == {64: len(traffic)}
    assert Counter(r["tokens"] for r in traffic) == {8: len(traffic)}  # the mock's own is 3
    assert {r["model"] for r in traffic} == {"mock-llm"}  # GET /v1/models' first
    s = load(summary_path)
    totals = s["totals"]
    drift = totals["input_tokens_drift"]
    assert drift["checked"] == drift["exact"] == totals["requests"] > 10
    assert 0 <= len(traffic) - totals["requests"] <= totals["cancelled"]
    assert s["settings"]["exact_output"] is True and s["settings"]["tokenizer"] == "server"


def test_dataset_flag_sends_the_datasets_prompts(tmp_path, summary_path):
    from llm_load.core.scenario.datasets import read_dataset
    from llm_load.core.scenario.workload import Dataset

    copied = tmp_path / "chats.json"  # a relative path, from the run's directory
    copied.write_bytes((DATA / "sharegpt_sample.json").read_bytes())
    _, dialogues = read_dataset(tmp_path / "x.yaml", Dataset(file="chats.json"))  # (all, kept)
    expected = {history_digests(d.opening()) for d in dialogues}
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "4") as mock:
        proc = llm_load_run(
            tmp_path, "-H", mock.base_url, "--dataset", "chats.json", "--output-tokens", "4",
            "-u", "3", "-r", "3", "-t", "3s", "--llm-json", str(summary_path),
        )  # fmt: skip
        truth = [r for r in mock.stats(detail=True)["requests"] if r["tokens"] != 1]
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = {tuple((m["role"], m["crc32"]) for m in r["history"]) for r in truth}
    assert sent == expected and len(expected) == 12  # every conversation's opening, only them
    assert load(summary_path)["totals"]["requests"] > 20


def test_trace_flags_replay_the_schedule(tmp_path, summary_path):
    """20 requests over 2 s, replayed at --time-scale 0.5: each at its timestamp x 0.5."""
    rows = [
        {"timestamp": 100 * i, "input_length": 40 + 10 * i, "output_length": 2 + i % 5,
         "hash_ids": [0, 100 + i]}
        for i in range(20)
    ]  # fmt: skip
    trace = tmp_path / "trace.jsonl"
    trace.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with spawn_mock(*MOCK) as mock:
        proc = llm_load_run(
            tmp_path, "-H", mock.base_url, "--trace", "trace.jsonl", "--time-scale", "0.5",
            "--block-tokens", "16", "--exact-output", "-u", "8", "-r", "8", "-t", "4s",
            "--llm-json", str(summary_path),
        )  # fmt: skip
        truth = sorted(
            (r for r in mock.stats()["requests"] if r["tokens"] != 1),
            key=lambda r: r["received_at"],
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = Counter((mock_tokens(r["prompt_chars"]), r["tokens"]) for r in truth)
    assert served == Counter((r["input_length"], r["output_length"]) for r in rows)
    start = truth[0]["received_at"]
    lag_ms = [
        (r["received_at"] - start) * 1e3 - 0.5 * row["timestamp"]
        for r, row in zip(truth, rows, strict=True)
    ]
    assert sorted(abs(x) for x in lag_ms)[len(lag_ms) // 2] < 10  # median, busy machine
    assert max(abs(x) for x in lag_ms) < 250
    arrivals = load(summary_path)["arrivals"]
    assert arrivals["arrival"] == "trace" and arrivals["sent"] == 20
    assert arrivals["dropped"] == 0


def test_print_scenario_asks_the_server_for_the_model_and_loads(tmp_path):
    with spawn_mock(*MOCK) as mock:
        proc = llm_load_run(
            tmp_path, "-H", mock.base_url, "--prefix-tokens", "128", "--prefix-groups", "2",
            "--input-tokens", "32", "--output-tokens", "4", "-u", "2", "--print-scenario",
        )  # fmt: skip
        sent = mock.stats()["count"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sent == 0  # printed, not run
    path = tmp_path / "saved.yaml"
    path.write_text(proc.stdout)
    s = load_scenario(path)
    assert [m.name for m in s.models] == ["mock-llm"] and s.target.host == mock.base_url
    assert s.prefix is not None and (s.prefix.groups, s.prefix.tokens) == (2, 128)


def test_bad_flag_combination_exits_2_before_any_request(tmp_path):
    with spawn_mock(*MOCK) as mock:
        proc = llm_load_run(
            tmp_path, "-H", mock.base_url, "--trace", "t.jsonl", "--dataset", "d.json"
        )
        sent = mock.stats()["count"]
    assert proc.returncode == 2 and sent == 0
    assert "one prompt source: --dataset or --trace, not both" in proc.stderr


def test_sigterm_ends_the_run_writes_the_summary_and_removes_the_scenario(tmp_path, summary_path):
    """A SIGTERM to `llm-load run` (docker stop, a CI timeout) reaches Locust, which writes
    its summary; then the temporary scenario goes too."""
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cmd = [sys.executable, "-m", "llm_load.cli", "run", "--headless", "--input-tokens", "16",
           "--output-tokens", "4", "-u", "2", "-r", "2", "-t", "60s",
           "--llm-json", str(summary_path)]  # fmt: skip
    with spawn_mock(*MOCK) as mock:
        proc = subprocess.Popen(
            [*cmd, "-H", mock.base_url], cwd=tmp_path, env=clean_env(TMPDIR=str(tmp)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while mock.stats()["count"] < 10 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [p.suffix for p in next(tmp.iterdir()).iterdir()] == [".yaml"]  # running
            proc.send_signal(signal.SIGTERM)  # to llm-load alone, not its session
            _, err = proc.communicate(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        truth = mock.stats()["count"]
    assert list(tmp.iterdir()) == []
    assert proc.returncode == 0 and summary_path.exists(), (proc.returncode, err[-3000:])
    s = load(summary_path)
    assert s["interrupted"] is True, err[-3000:]
    assert 0 < s["totals"]["requests"] + s["totals"]["cancelled"] <= truth
