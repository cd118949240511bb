"""`llm-load doctor` and `llm-load models` as real subprocesses against real mock servers.

Every run's stdout and stderr are checked for the API key (it must never appear)."""

from __future__ import annotations

# Locust (gevent) must patch ssl before requests/urllib3 import it, in this pytest process too.
import locust  # noqa: F401

import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from llm_load.mock import MockProcess, spawn_mock
from tests.conftest import clean_env

pytestmark = pytest.mark.timeout(120)
KEY = "sk-doctor-test-secret-4242"
WRONG = "sk-wrong-key-for-the-doctor-9999"
FAST = ("--ttft-ms", "2", "--itl-ms", "1", "--tokens", "8")
STEPS = ("connect", "endpoint", "auth", "model", "chat", "stream", "tools")


class Run:
    """A finished `llm-load ...` subprocess."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def line(self, step: str) -> str:
        """The output line of `step` (its mark, name and message)."""
        for line in self.out.splitlines():
            if line[2:].split(" ", 1)[0] == step:
                return line
        raise AssertionError(f"no {step!r} line in:\n{self.out}")

    def json(self) -> dict:
        return json.loads(self.out)


def llm_load(*args: str, **env: str) -> Run:
    """Run `python -m llm_load.cli ARGS` with a clean environment plus `env`."""
    proc = subprocess.run(
        [sys.executable, "-m", "llm_load.cli", *args],
        capture_output=True, text=True, encoding="utf-8", timeout=60,
        env=clean_env(PYTHONIOENCODING="utf-8", **env),
    )  # fmt: skip
    run = Run(proc)
    for secret in (KEY, WRONG):
        assert secret not in run.out and secret not in run.err, (run.out, run.err)
    assert "Traceback" not in run.err, run.err
    return run


def doctor(*args: str, **env: str) -> Run:
    return llm_load("doctor", "--timeout", "10", *args, **env)


@pytest.fixture(scope="module")
def healthy() -> Iterator[MockProcess]:
    with spawn_mock(*FAST) as mock:
        yield mock


@pytest.fixture(scope="module")
def secured() -> Iterator[MockProcess]:
    """The seed's server: everything under /api, and an API key."""
    with spawn_mock(*FAST, "--root-path", "/api", "--api-key", KEY) as mock:
        yield mock


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
def test_healthy_mock_is_ready(healthy: MockProcess, suffix: str) -> None:
    run = doctor("-H", healthy.base_url + suffix)
    assert run.code == 0, run.out
    for step in STEPS:
        assert run.line(step).startswith("✓ "), run.line(step)
    assert "usage chunk reported" in run.line("stream") and "[DONE] seen" in run.line("stream")
    assert "get_weather(" in run.line("tools")
    assert "using the first served id 'mock-llm'" in run.line("model")
    assert f"✓ verdict: ready: -H {healthy.base_url} --model mock-llm" in run.out


def test_json_has_the_same_verdict(healthy: MockProcess) -> None:
    text = doctor("-H", healthy.base_url, "--model", "mock-llm-slow")
    run = doctor("-H", healthy.base_url, "--model", "mock-llm-slow", "--json")
    doc = run.json()  # stdout is the JSON document and nothing else
    assert run.code == text.code == doc["exit_code"] == 0 and doc["ok"] is True
    assert f"verdict: {doc['verdict']}" in text.out
    assert doc["base_url"] == healthy.base_url + "/v1"
    assert doc["suggested_host"] == healthy.base_url and doc["model"] == "mock-llm-slow"
    assert [s["name"] for s in doc["steps"]] == list(STEPS)
    assert all(s["ok"] and s["level"] == "ok" for s in doc["steps"])
    stream = doc["steps"][5]["details"]
    assert stream["done"] and stream["role_seen"] and stream["usage"] and stream["ttft_ms"] > 0


def test_wrong_base_url_names_the_one_that_works(healthy: MockProcess) -> None:
    with spawn_mock(*FAST, "--root-path", "/api") as mock:
        run = doctor("-H", mock.base_url)
    assert run.code == 11
    endpoint = run.line("endpoint")
    assert endpoint.startswith("✗ ")
    assert f"GET {mock.base_url}/v1/models → 404 (Not Found: /v1/models)" in endpoint
    assert (
        f"the server serves {mock.base_url}/api/v1/models: use -H {mock.base_url}/api" in endpoint
    )
    for step in STEPS[2:]:  # the run carried on at the working base
        assert run.line(step).startswith("✓ "), run.line(step)
    assert f"not ready (exit 11): endpoint: wrong base URL: use -H {mock.base_url}/api" in run.out
    pasted = doctor("-H", healthy.base_url + "/v1/chat/completions", "--json").json()
    assert pasted["exit_code"] == 11 and pasted["suggested_host"] == healthy.base_url


@pytest.mark.parametrize(
    ("suffix", "what"),
    [
        ("/v1/v1", "has /v1 twice"),
        ("/v1/v1/", "has /v1 twice"),
        ("/v1/chat/completions", "ends with the endpoint path /v1/chat/completions"),
    ],
)
def test_a_doubled_path_is_named_not_normalised(healthy: MockProcess, suffix, what) -> None:
    run = doctor("-H", healthy.base_url + suffix)
    assert run.code == 11
    endpoint = run.line("endpoint")
    assert endpoint.startswith("✗ ") and f"your URL {what}" in endpoint
    assert f"use -H {healthy.base_url}" in endpoint
    for step in STEPS[2:]:  # the run carried on at the fixed base
        assert run.line(step).startswith("✓ "), run.line(step)
    assert f"not ready (exit 11): endpoint: your URL {what}: use -H {healthy.base_url}" in run.out


def test_the_seed_day_in_one_run(secured: MockProcess) -> None:
    """404 from a wrongly built URL, then 401 with a dummy key: both named, with the fixes."""
    run = doctor("-H", secured.base_url, "--api-key", WRONG)
    assert run.code == 11
    assert f"use -H {secured.base_url}/api" in run.line("endpoint")
    auth = run.line("auth")
    assert (
        auth.startswith("✗ ")
        and "the server rejected the API key sk-…9999 (from --api-key)" in auth
    )
    assert "server says “Invalid API key” (HTTP 401)" in auth
    assert "VLLM_API_KEY" in run.out
    assert "then auth: the server rejected the API key" in run.out


@pytest.mark.parametrize(
    ("args", "env", "ours", "theirs"),
    [
        ((), {}, "this server requires an API key and none was sent", "Missing API key"),
        (("--api-key", ""), {}, "an empty API key was sent (from --api-key)", "Empty API key"),
        (("--api-key", WRONG), {}, "the server rejected the API key sk-…9999", "Invalid API key"),
        ((), {"OPENAI_API_KEY": WRONG}, "rejected the API key sk-…9999 (from OPENAI_API_KEY)",
         "Invalid API key"),
    ],
)  # fmt: skip
def test_auth_failures_are_told_apart(
    secured: MockProcess, args: tuple[str, ...], env: dict[str, str], ours: str, theirs: str
) -> None:
    run = doctor("-H", secured.base_url + "/api", *args, **env)
    assert run.code == 12, run.out
    auth = run.line("auth")
    assert auth.startswith("✗ ") and ours in auth and f"“{theirs}" in auth
    assert run.line("model").startswith("· ")  # stopped after the hard failure
    assert "not ready (exit 12): auth:" in run.out
    if "OPENAI_API_KEY" in env:
        assert "it may hold a key for another service" in run.out


def test_right_key_from_the_environment(secured: MockProcess) -> None:
    run = doctor("-H", secured.base_url + "/api/v1", OPENAI_API_KEY=KEY)
    assert run.code == 0, run.out
    assert "API key sk-…4242 (from OPENAI_API_KEY) accepted" in run.line("auth")
    assert "(API key sk-…4242 from OPENAI_API_KEY)" in run.out.splitlines()[0]
    env = {"LLM_LOAD_API_KEY": KEY, "OPENAI_API_KEY": WRONG}  # LLM_LOAD_API_KEY wins
    doc = doctor("-H", secured.base_url + "/api", "--json", **env).json()
    assert doc["exit_code"] == 0 and doc["api_key"] == {
        "shown": "sk-…4242",
        "source": "LLM_LOAD_API_KEY",
    }


def test_key_sent_to_a_server_that_needs_none(healthy: MockProcess) -> None:
    run = doctor("-H", healthy.base_url, "--api-key", KEY)
    assert run.code == 0
    assert "no API key needed (the key sk-…4242 from --api-key is sent but not checked)" in run.out


def test_wrong_model_lists_served_ids_and_close_matches(healthy: MockProcess) -> None:
    run = doctor("-H", healthy.base_url, "--model", "Mock-LM")
    assert run.code == 13
    model = run.line("model")
    assert "model 'Mock-LM' is not served; served: mock-llm, mock-llm-slow" in model
    assert "did you mean 'mock-llm'" in model
    assert run.line("chat").startswith("· ")


def test_no_usage_warns(healthy: MockProcess) -> None:
    with spawn_mock(*FAST, "--no-usage") as mock:
        run = doctor("-H", mock.base_url)
    assert run.code == 0, run.out
    assert run.line("stream").startswith("! ") and "usage not reported" in run.line("stream")
    assert run.line("chat").startswith("! ") and "usage not reported" in run.line("chat")
    assert "2 warnings: chat, stream" in run.out


def test_no_tools_warns_with_the_servers_message() -> None:
    with spawn_mock(*FAST, "--no-tools") as mock:
        run = doctor("-H", mock.base_url)
    assert run.code == 0, run.out
    tools = run.line("tools")
    assert tools.startswith("! ") and "400" in tools
    assert '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser' in tools
    assert "--enable-auto-tool-choice --tool-call-parser PARSER" in run.out  # the hint
    assert "1 warning: tools" in run.out


def test_blocked_prompt_is_a_chat_failure_not_an_auth_one() -> None:
    with spawn_mock(*FAST, "--block-prompt", "ready") as mock:
        run = doctor("-H", mock.base_url)
    assert run.code == 14
    assert run.line("auth").startswith("✓ ")
    assert "403: “Prompt blocked for security reasons”" in run.line("chat")
    assert "content filter" in run.out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_port() -> None:
    port = free_port()
    run = doctor("-H", f"http://127.0.0.1:{port}", "--api-key", KEY)
    assert run.code == 10
    assert f"connection refused by 127.0.0.1:{port}" in run.line("connect")
    doc = doctor("-H", f"http://127.0.0.1:{port}", "--json").json()
    assert doc["exit_code"] == 10 and doc["steps"][0]["level"] == "fail"
    assert [s["level"] for s in doc["steps"][1:]] == ["skip"] * 6
    assert doc["verdict"].startswith("not ready (exit 10): connect: connection refused")


def test_models_table(healthy: MockProcess) -> None:
    run = llm_load("models", "-H", healthy.base_url)
    assert run.code == 0
    assert "mock-llm " in run.out and "mock-llm-slow" in run.out and "8192" in run.out
    assert "llm-load-mock" in run.out
    doc = llm_load("models", "-H", healthy.base_url + "/v1", "--json").json()
    assert [m["id"] for m in doc["models"]] == ["mock-llm", "mock-llm-slow"]
    assert doc["models"][0]["max_model_len"] == 8192


def test_models_auth_and_url_errors(secured: MockProcess) -> None:
    run = llm_load("models", "-H", secured.base_url + "/api")
    assert run.code == 12
    assert "this server requires an API key and none was sent" in run.out
    assert "“Missing API key" in run.out
    wrong = llm_load("models", "-H", secured.base_url, "--api-key", KEY)
    assert wrong.code == 11 and f"use -H {secured.base_url}/api" in wrong.out
    good = llm_load("models", "-H", secured.base_url + "/api", "--json", LLM_LOAD_API_KEY=KEY)
    assert good.code == 0 and [m["id"] for m in good.json()["models"]] == [
        "mock-llm",
        "mock-llm-slow",
    ]
