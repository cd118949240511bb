"""A real llama.cpp server (gemma-3-270m) for `tests/real`, via ../shared/servers/llama-server.sh.

The script installs llama.cpp from PyPI into `.venv-llama` inside the repository (the first
install compiles it: ~11 min on 2 cores; pip caches the wheel afterwards) and starts the
server on 127.0.0.1. Tests here are marked `real`; they skip when the script is absent.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT.parent / "shared" / "servers" / "llama-server.sh"
VENV = Path(os.environ.get("LLM_LOAD_LLAMA_VENV", ROOT / ".venv-llama"))
MODEL = "gemma-3-270m"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """One running llama-server; `base_url` ends without /v1."""

    def __init__(self, port: int, api_key: str | None) -> None:
        self.port = port
        self.api_key = api_key
        self.base_url = f"http://127.0.0.1:{port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "LLAMA_API_KEY"}
        env.update(LLAMA_VENV=str(VENV), LLAMA_PORT=str(self.port))
        if self.api_key:
            env["LLAMA_API_KEY"] = self.api_key
        return env

    def start(self) -> None:
        proc = subprocess.run(
            ["bash", str(SCRIPT), "start"],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=1500,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"llama-server did not start:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
            )

    def stop(self) -> None:
        subprocess.run(
            ["bash", str(SCRIPT), "stop"], env=self._env(), capture_output=True, timeout=60
        )


def _serve(api_key: str | None) -> Iterator[LlamaServer]:
    if not SCRIPT.is_file():
        pytest.skip(f"real-server tests need {SCRIPT}")
    server = LlamaServer(free_port(), api_key)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llama() -> Iterator[LlamaServer]:
    """A llama-server without authentication."""
    yield from _serve(None)


LLAMA_KEY = "sk-llama-REAL-0123456789abcd"


@pytest.fixture(scope="session")
def llama_with_key() -> Iterator[LlamaServer]:
    """A llama-server started with --api-key LLAMA_KEY."""
    yield from _serve(LLAMA_KEY)
