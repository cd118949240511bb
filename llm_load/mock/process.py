"""Run the mock server as a subprocess (used by tests, benchmarks and ``llm-load demo``)."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

READY_PREFIX = "llm-load mock listening on "
API_KEY_ENV = "LLM_LOAD_MOCK_API_KEY"
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
# Never route requests to the local mock through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MockProcess:
    """A running ``python -m llm_load.mock`` subprocess; a context manager that stops it."""

    def __init__(self, proc: subprocess.Popen[bytes], base_url: str, stderr: Any) -> None:
        self.proc = proc
        self.base_url = base_url
        self.port = int(base_url.rsplit(":", 1)[1])
        self._stderr = stderr
        self._stderr_text = ""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, timeout: float = 30.0) -> dict[str, Any]:
        req = urllib.request.Request(
            self.base_url + path, method=method, data=b"" if method == "POST" else None
        )
        with _OPENER.open(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def stats(self, detail: bool = False) -> dict[str, Any]:
        """The mock's ground truth (``GET /stats``)."""
        return self._call("GET", "/stats?detail=1" if detail else "/stats")

    def reset(self) -> None:
        """Clear the ground-truth log (``POST /stats/reset``)."""
        self._call("POST", "/stats/reset")

    def stderr_text(self) -> str:
        """Everything the process wrote to stderr so far (kept after :meth:`close`)."""
        if not self._stderr.closed:
            self._stderr.seek(0)
            self._stderr_text = self._stderr.read().decode(errors="replace")
        return self._stderr_text

    def close(self) -> int | None:
        """SIGTERM, wait up to 5 s, then SIGKILL; return the exit code. Idempotent."""
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None and not proc.stdout.closed:
            proc.stdout.close()
        if not self._stderr.closed:
            self.stderr_text()
            self._stderr.close()
        return proc.returncode


def _command(args: tuple[str, ...], cpu: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "llm_load.mock", "--port", "0", *args]
    taskset = shutil.which("taskset") if cpu is not None else None
    return [taskset, "-c", str(cpu), *cmd] if taskset else cmd


def _read_ready_line(proc: subprocess.Popen[bytes], timeout: float) -> str | None:
    """Read stdout until the first newline, EOF or ``timeout``; return the line or None."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                return None
            data = os.read(fd, 4096)
            if not data:
                return None
            buf += data
    return buf.split(b"\n", 1)[0].decode(errors="replace").strip()


def spawn_mock(*args: str, ready_timeout: float = 15.0, cpu: int | None = None) -> MockProcess:
    """Start ``python -m llm_load.mock --port 0 *args`` (pinned to ``cpu`` with taskset when
    given and available) and wait until it listens; raise RuntimeError with its stderr if not.

    The child's configuration comes from ``args`` only: ``LLM_LOAD_MOCK_API_KEY`` is not passed
    on (pass ``"--api-key", KEY`` to require a key).
    """
    env = dict(os.environ)
    env.pop(API_KEY_ENV, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT_ROOT, env.get("PYTHONPATH")) if p)
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - owned (and closed) by MockProcess
    proc = subprocess.Popen(
        _command(args, cpu),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
    )
    line = _read_ready_line(proc, ready_timeout)
    if line is None or not line.startswith(READY_PREFIX):
        mock = MockProcess(proc, "http://127.0.0.1:0", stderr)
        code = mock.close()
        raise RuntimeError(
            f"mock server did not become ready within {ready_timeout:g}s "
            f"(exit code {code}, stdout {line!r}); stderr:\n{mock.stderr_text()}"
        )
    return MockProcess(proc, line[len(READY_PREFIX) :], stderr)
