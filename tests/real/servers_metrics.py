"""Real llama.cpp and vLLM servers for the server-metrics tests (no conftest: plain helpers).

`serve(kind, **env)` starts `llama-server.sh` or `vllm-server.sh` (../shared/servers) on a
free 127.0.0.1 port with small slot counts and the switches that make them report: llama.cpp
`--metrics`, vLLM `--enable-per-request-metrics`. The venvs come from `LLM_LOAD_LLAMA_VENV`
/ `LLM_LOAD_VLLM_VENV` (default: `.venv-llama` / `.venv-vllm` in the repository); the
scripts install a missing venv themselves (as `tests/real/conftest.py`'s servers do), and a
test skips only when the scripts are missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KINDS = {
    # kind: (script, env prefix, venv variable, default venv, model, extra server args)
    "llama": ("llama-server.sh", "LLAMA", "LLM_LOAD_LLAMA_VENV", ".venv-llama", "--metrics"),
    "vllm": (
        "vllm-server.sh",
        "VLLM",
        "LLM_LOAD_VLLM_VENV",
        ".venv-vllm",
        "--enable-per-request-metrics",
    ),
}
SLOTS = {"llama": "LLAMA_PARALLEL", "vllm": "VLLM_MAX_NUM_SEQS"}


def scripts_dir() -> Path | None:
    """../shared/servers beside the checkout (or beside the worktrees' parent)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        candidate = base / "shared" / "servers"
        if candidate.is_dir():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class RealServer:
    kind: str
    base_url: str  # without /v1
    slots: int


@contextmanager
def serve(kind: str, slots: int = 2, extra_args: str = "") -> Iterator[RealServer]:
    """A started server of `kind` with `slots` generation slots (and `extra_args` server
    flags); stopped afterwards."""
    script_name, prefix, venv_var, default_venv, extra = KINDS[kind]
    scripts = scripts_dir()
    venv = Path(os.environ.get(venv_var, ROOT / default_venv))
    if scripts is None:
        pytest.skip(f"needs ../shared/servers/{script_name}")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefix + "_")}
    env.update({f"{prefix}_VENV": str(venv), f"{prefix}_PORT": str(port), SLOTS[kind]: str(slots)})
    env[f"{prefix}_EXTRA_ARGS"] = f"{extra} {extra_args}".strip()
    script = ["bash", str(scripts / script_name)]
    proc = subprocess.run([*script, "start"], env=env, capture_output=True, text=True, timeout=900)
    try:
        if proc.returncode != 0:
            pytest.fail(f"{script_name} did not start:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
        yield RealServer(kind, f"http://127.0.0.1:{port}", slots)
    finally:
        subprocess.run([*script, "stop"], env=env, capture_output=True, timeout=120)
