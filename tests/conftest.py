"""Shared test helpers: run Locust (and our CLI) as real subprocesses."""

from __future__ import annotations

import locust  # noqa: F401  (gevent must patch before ssl/requests are imported)

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAT_LOCUSTFILE = ROOT / "locustfiles" / "chat.py"
TOOLS_LOCUSTFILE = ROOT / "locustfiles" / "tools.py"
TOOL_CASES = ROOT / "scenarios" / "data" / "tools_basic.jsonl"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process, without keys that would leak into a run."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LLM_LOAD_", "OPENAI_", "LOCUST_"))
    }
    env.update(extra)
    return env


def run_locust(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    locustfile: Path = CHAT_LOCUSTFILE,
) -> subprocess.CompletedProcess:
    """`locust -f locustfiles/chat.py ARGS` (or another locustfile), headless, captured."""
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env or clean_env()
    )


def short_run(
    host: str,
    summary_path: Path,
    *extra: str,
    users: int = 2,
    run_time: str = "2s",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """A short headless chat run: `users` users spawned at once, summary to `summary_path`."""
    n = str(users)
    common = ("-u", n, "-r", n, "-t", run_time, "-H", host, "--llm-json", str(summary_path))
    return run_locust(*common, *extra, env=env)


def wait_for_traffic(mock, limit_s: float = 30.0) -> None:
    """Until the mock has answered a request (start-up takes seconds on a loaded machine)."""
    deadline = time.monotonic() + limit_s
    while not mock.stats()["total"]:
        assert time.monotonic() < deadline, "no request reached the mock"
        time.sleep(0.2)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[int(rank) - 1]


@pytest.fixture
def summary_path(tmp_path: Path) -> Path:
    return tmp_path / "summary.json"


def load(path: Path) -> dict:
    return json.loads(path.read_text())
