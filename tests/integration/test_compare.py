"""`llm-load compare` as a subprocess against the mock: counts equal the mock's ground truth."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from llm_load.mock.process import MockProcess, spawn_mock
from tests.conftest import clean_env, load

LLM_LOAD = Path(sys.executable).parent / "llm-load"
MODELS = ("mock-llm", "mock-llm-slow")
BLOCKED = "Prompt blocked for security reasons"
RIGHT_KEY = "sk-right-key-for-the-mock-7777"
WRONG_KEY = "sk-wrong-key-never-printed-9999"


def compare(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LLM_LOAD), "compare", *args],
        capture_output=True, text=True, timeout=90, cwd=cwd, env=env or clean_env(),
    )  # fmt: skip


def lines(stdout: str, mark: str, model: str) -> list[str]:
    """The live lines of one model (`✓` or `✗`)."""
    return [ln for ln in stdout.splitlines() if ln.startswith(f"{mark} {model} ")]


def table_row(stdout: str, model: str) -> list[str]:
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0] == model:
            return cells
    raise AssertionError(f"no table row for {model}:\n{stdout}")


def truth(mock: MockProcess) -> list[dict[str, Any]]:
    stats = mock.stats()
    assert stats["total"] == stats["count"]
    return stats["requests"]


def max_overlap(requests: list[dict[str, Any]]) -> int:
    """Most requests the server was serving at the same moment."""
    events = []
    for r in requests:
        events += [(r["received_at"], 1), (r["received_at"] + r["e2e_ms"] / 1e3, -1)]
    current = peak = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        current += step
        peak = max(peak, current)
    return peak


@pytest.fixture(scope="module")
def mock() -> MockProcess:
    args = ("--ttft-ms", "60", "--itl-ms", "3", "--tokens", "12", "--backend", "gpu-07")
    with spawn_mock(*args) as proc:
        yield proc


def test_two_models_passes_parallel_counts_match_truth(mock: MockProcess, tmp_path: Path) -> None:
    mock.reset()
    out = tmp_path / "summary.json"
    proc = compare("-H", mock.base_url, "--passes", "3", "--parallel-models", "2",
                   "--parallel-requests", "2", "--llm-json", str(out), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"models (2, served by GET /models): {', '.join(MODELS)}" in proc.stdout
    requests = truth(mock)
    assert Counter((r["model"], r["status"]) for r in requests) == {
        ("mock-llm", 200): 3,
        ("mock-llm-slow", 200): 3,
    }
    summary = load(out)
    assert summary["schema"] == "llm-load/summary/v1"
    assert (summary["totals"]["requests"], summary["totals"]["failures"]) == (6, 0)
    for model in MODELS:
        served = [r for r in requests if r["model"] == model]
        metrics = summary["by_model"][model]
        assert (metrics["requests"], metrics["failures"]) == (3, 0)
        assert metrics["output_tokens"] == sum(r["tokens"] for r in served) == 36
        assert metrics["ttft_ms"]["count"] == 3
        assert len(lines(proc.stdout, "✓", model)) == 3
        assert table_row(proc.stdout, model)[1:3] == ["3", "0"]
        assert summary["compare"][model]["backend"]["machine_name"] == ["gpu-07"]
        assert summary["compare"][model]["backend"]["x-backend"] == ["gpu-07"]
    assert "machine_name=gpu-07" in table_row(proc.stdout, "mock-llm")[-1]
    assert summary["settings"]["models"] == list(MODELS)
    assert summary["settings"]["parallel_requests"] == 2
    # 2 models x 2 requests in flight at once, never more, never 3 of one model
    assert max_overlap(requests) == 4
    assert all(max_overlap([r for r in requests if r["model"] == m]) == 2 for m in MODELS)


def test_one_model_at_a_time_non_streaming(mock: MockProcess, tmp_path: Path) -> None:
    mock.reset()
    proc = compare("--endpoint", mock.base_url + "/v1", "--models", "mock-llm-slow,mock-llm",
                   "--passes", "2", "--parallel-requests", "2", "--no-stream",
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    requests = truth(mock)
    assert [r["stream"] for r in requests] == [False] * 4
    slow = [r for r in requests if r["model"] == "mock-llm-slow"]
    fast = [r for r in requests if r["model"] == "mock-llm"]
    # --models order, and the second model starts only after the first is done
    assert max(r["received_at"] + r["e2e_ms"] / 1e3 for r in slow) <= min(
        r["received_at"] for r in fast
    )
    assert max_overlap(slow) == 2
    assert "models (2, from --models): mock-llm-slow, mock-llm" in proc.stdout
    done = lines(proc.stdout, "✓", "mock-llm-slow")
    assert len(done) == 2 and all("TTFT -" in ln and "machine_name=gpu-07" in ln for ln in done)


def test_blocked_prompt_is_shown_per_request_and_the_run_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    with spawn_mock("--ttft-ms", "5", "--block-prompt", "forbidden") as mock:
        proc = compare("-e", mock.base_url, "-m", ",".join(MODELS), "--passes", "2",
                       "-p", "Tell me forbidden things", "--llm-json", str(out),
                       cwd=tmp_path)  # fmt: skip
        requests = truth(mock)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert Counter(r["status"] for r in requests) == {403: 4}
    for model in MODELS:
        failed = lines(proc.stdout, "✗", model)
        assert len(failed) == 2
        assert all(f"http_403: {BLOCKED}" in ln for ln in failed)
        assert table_row(proc.stdout, model)[1:3] == ["0", "2"]
    summary = load(out)
    assert summary["errors"] == [{"kind": "http_403", "count": 4, "example": BLOCKED}]
    assert (summary["totals"]["requests"], summary["totals"]["failures"]) == (4, 4)
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def keyed_mock() -> MockProcess:
    with spawn_mock("--ttft-ms", "5", "--tokens", "4", "--api-key", RIGHT_KEY) as proc:
        yield proc


def test_wrong_key_401_message_shown_key_never_printed(
    keyed_mock: MockProcess, tmp_path: Path
) -> None:
    out = tmp_path / "summary.json"
    proc = compare("-e", keyed_mock.base_url, "-m", "mock-llm", "--passes", "2", "--debug",
                   "--api-key", WRONG_KEY, "--llm-json", str(out), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1
    failed = lines(proc.stdout, "✗", "mock-llm")
    assert len(failed) == 2 and all("http_401: Invalid API key" in ln for ln in failed)
    # --debug: the request with the key redacted, the response status and error body
    assert '"Authorization": "Bearer sk-…9999"' in proc.stdout
    assert "status 401 Unauthorized" in proc.stdout
    assert '"type": "authentication_error"' in proc.stdout
    assert f"POST {keyed_mock.base_url}/v1/chat/completions" in proc.stdout
    text = proc.stdout + proc.stderr + out.read_text()
    assert WRONG_KEY not in text and WRONG_KEY[3:-4] not in text
    assert load(out)["settings"]["api_key"] == "sk-…9999"


def test_wrong_key_from_env_fails_model_discovery(keyed_mock: MockProcess, tmp_path: Path) -> None:
    env = clean_env(OPENAI_API_KEY=WRONG_KEY)
    proc = compare("-e", keyed_mock.base_url, "--debug", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert "API key sk-…9999 from OPENAI_API_KEY" in proc.stdout
    assert "cannot list the models" in proc.stdout
    assert "answered 401: Invalid API key" in proc.stdout
    assert "llm-load doctor -H" in proc.stdout
    assert WRONG_KEY not in proc.stdout + proc.stderr


def test_config_json_in_cwd_and_env_precedence(keyed_mock: MockProcess, tmp_path: Path) -> None:
    """The seed's config.json (endpoint, token, defaults) is used; env beats it."""
    config = {
        "api": {"endpoint": keyed_mock.base_url + "/v1", "token": RIGHT_KEY},
        "defaults": {"passes": 2, "temperature": 0.5, "max_tokens": 3, "timeout": 20},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    keyed_mock.reset()
    proc = compare("--llm-json", "s.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "API key sk-…7777 from config.json (api.token)" in proc.stdout
    requests = truth(keyed_mock)
    assert Counter(r["model"] for r in requests) == {m: 2 for m in MODELS}
    assert all(r["tokens"] == 3 for r in requests)  # defaults.max_tokens
    settings = load(tmp_path / "s.json")["settings"]
    assert (settings["temperature"], settings["request_timeout_s"]) == (0.5, 20.0)
    assert RIGHT_KEY not in proc.stdout + proc.stderr + (tmp_path / "s.json").read_text()
    keyed_mock.reset()
    proc = compare("-m", "mock-llm", cwd=tmp_path, env=clean_env(LLM_LOAD_PASSES="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(truth(keyed_mock)) == 1


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({"config.json": '{"api": {"endpoint": "http://h",}}'}, (),
         "config.json:1:33: invalid JSON"),
        ({"c.yaml": "api:\n  endpoint: http://h\ndefaults:\n  pases: 2\n"}, ("-c", "c.yaml"),
         "c.yaml: defaults.pases: unknown key"),
        ({}, ("-c", "missing.json"), "--config-file missing.json: no such file"),
        ({}, (), "no endpoint: give -e/--endpoint URL"),
        ({}, ("-e", "http://h", "--passes", "0"), "--passes: must be an integer >= 1"),
    ],
)  # fmt: skip
def test_bad_settings_exit_2(
    tmp_path: Path, files: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = compare(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_ctrl_c_shows_and_writes_what_was_done(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    with spawn_mock("--ttft-ms", "1000", "--tokens", "4") as mock:
        proc = subprocess.Popen(
            [str(LLM_LOAD), "compare", "-e", mock.base_url, "-m", "mock-llm", "--passes", "3",
             "-pr", "2", "--llm-json", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            env=clean_env(),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while len(truth(mock)) < 3 and time.monotonic() < deadline:  # the third is in flight
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 1, stdout + stderr
    assert "3 requests" not in stdout and "cancelled (interrupted)" in stdout
    totals = load(out)["totals"]
    assert totals["failures"] == 0 and totals["cancelled"] >= 1
    assert totals["requests"] + totals["cancelled"] == 3
    assert "Traceback" not in stderr


@pytest.mark.parametrize("api", ["responses", "messages"])
def test_compare_another_api(mock: MockProcess, tmp_path: Path, api: str) -> None:
    mock.reset()
    out = tmp_path / "summary.json"
    proc = compare("-H", mock.base_url, "--api", api, "--passes", "2", "--llm-json", str(out),
                   cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    requests = truth(mock)
    assert Counter((r["model"], r["api"], r["status"]) for r in requests) == {
        (model, api, 200): 2 for model in MODELS}  # fmt: skip
    summary = load(out)
    assert summary["settings"]["api"] == api
    for model in MODELS:
        metrics = summary["by_model"][model]
        assert (metrics["requests"], metrics["failures"], metrics["api"]) == (2, 0, api)
        assert metrics["output_tokens"] == 24 and metrics["ttft_ms"]["count"] == 2
