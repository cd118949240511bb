"""Real servers for `tests/real`: llama.cpp (gemma-3-270m) and vLLM (a tiny random-weight Llama).

Both come from ../shared/servers/ next to the repository, or next to one of its parent folders
(`llama-server.sh`, `vllm-server.sh`),
which install their server into a venv on first use and start it on 127.0.0.1. The venvs are
`.venv-llama` and `.venv-vllm` in the repository (gitignored, outside every package), or the
paths in `LLM_LOAD_LLAMA_VENV` / `LLM_LOAD_VLLM_VENV`. First installs: llama.cpp compiles
(~11 min on 2 cores; pip caches the wheel), vLLM's CPU build ~1.5 min (3.5 GB). Each server is
started once per session; tests are marked `real` and skip when the scripts are absent.

`server` is parametrised over both, each started with an API key (`server.key`); vLLM with
`--max-num-seqs 4 --max-num-queued-reqs 6`, so a burst past six requests in flight gets 503s.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
# ../shared/servers next to the repository (CI), or next to a parent folder (a git worktree)
SERVERS = next(
    (p / "shared" / "servers" for p in ROOT.parents if (p / "shared" / "servers").is_dir()),
    ROOT.parent / "shared" / "servers",
)
SCRIPT = SERVERS / "llama-server.sh"
VENV = Path(os.environ.get("LLM_LOAD_LLAMA_VENV", ROOT / ".venv-llama"))
VLLM_VENV = Path(os.environ.get("LLM_LOAD_VLLM_VENV", ROOT / ".venv-vllm"))
MODEL = "gemma-3-270m"
LLAMA_KEY = "sk-llama-REAL-0123456789abcd"
VLLM_KEY = "sk-vllm-REAL-0123456789abcd"
VLLM_MAX_NUM_SEQS = 4
VLLM_MAX_IN_FLIGHT = 6  # --max-num-queued-reqs: waiting + running, past it 503
_SAMPLE = re.compile(r"^(?P<name>[a-z_:]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RealServer:
    """One running server; `base_url` ends without /v1; `key` is None without auth."""

    kind: str  # "llama" or "vllm"
    model: str
    port: int
    key: str | None
    script: Path
    env: dict[str, str] = field(default_factory=dict)  # the script's own variables

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def _env(self) -> dict[str, str]:
        prefix = "LLAMA_" if self.kind == "llama" else "VLLM_"
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
        return env | self.env

    def _script(self, action: str, timeout: float) -> subprocess.CompletedProcess[str]:
        cmd = ["bash", str(self.script), action]
        return subprocess.run(cmd, env=self._env(), capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        proc = self._script("start", 1800)
        if proc.returncode != 0:
            pytest.fail(f"{self.kind} did not start:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")

    def stop(self) -> None:
        self._script("stop", 60)

    def metrics(self) -> dict[str, float]:
        """Prometheus samples of `/metrics`, summed over labels, by metric name."""
        resp = requests.get(f"{self.base_url}/metrics", headers=self.headers, timeout=10)
        resp.raise_for_status()
        out: dict[str, float] = {}
        for line in resp.text.splitlines():
            found = _SAMPLE.match(line)
            if found:
                out[found["name"]] = out.get(found["name"], 0.0) + float(found["value"])
        return out


def _serve(server: RealServer) -> Iterator[RealServer]:
    if not server.script.is_file():
        pytest.skip(f"real-server tests need {server.script}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _llama(key: str | None) -> RealServer:
    port = free_port()
    env = {"LLAMA_VENV": str(VENV), "LLAMA_PORT": str(port), "LLAMA_EXTRA_ARGS": "--metrics"}
    env |= {"LLAMA_API_KEY": key} if key else {}
    return RealServer("llama", MODEL, port, key, SCRIPT, env)


def _vllm(key: str) -> RealServer:
    port = free_port()
    env = {"VLLM_VENV": str(VLLM_VENV), "VLLM_PORT": str(port), "VLLM_API_KEY": key}
    env |= {"VLLM_MAX_NUM_SEQS": str(VLLM_MAX_NUM_SEQS), "VLLM_MAX_QUEUED": str(VLLM_MAX_IN_FLIGHT)}
    return RealServer("vllm", "tiny-llama", port, key, SERVERS / "vllm-server.sh", env)


@pytest.fixture(scope="session")
def llama() -> Iterator[RealServer]:
    """A llama-server without authentication."""
    yield from _serve(_llama(None))


@pytest.fixture(scope="session")
def llama_with_key() -> Iterator[RealServer]:
    """A llama-server started with --api-key LLAMA_KEY (and --metrics)."""
    yield from _serve(_llama(LLAMA_KEY))


@pytest.fixture(scope="session")
def vllm() -> Iterator[RealServer]:
    """A vLLM server started with --api-key VLLM_KEY and a small in-flight limit."""
    yield from _serve(_vllm(VLLM_KEY))


@pytest.fixture(scope="session", params=["llama", "vllm"])
def server(request: pytest.FixtureRequest) -> RealServer:
    """Each real server in turn (started once per session), with an API key."""
    return request.getfixturevalue("llama_with_key" if request.param == "llama" else "vllm")
