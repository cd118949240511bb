"""The mock's truth counts from the request's arrival in the kernel, not from when its busy
event loop got round to reading it. The mock process is stopped (SIGSTOP) while a request
arrives and resumed 150 ms later: with kernel stamps its truth starts at the arrival (and its
first token, due 40 ms after it, goes out at once); without, at the late read."""

from __future__ import annotations

import os
import signal
import socket
import time

import orjson
import pytest

from llm_load.mock.process import spawn_mock

pytestmark = pytest.mark.timeout(60)
STOPPED_S = 0.15
BODY = orjson.dumps(
    {"model": "mock-llm", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
)
REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


def request_while_stopped(*mock_args: str) -> tuple[float, dict]:
    """Send one request while the mock cannot run; (send time, the mock's truth of it)."""
    with spawn_mock("--ttft-ms", "40", "--itl-ms", "5", "--tokens", "3", *mock_args) as mock:
        port = int(mock.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            # One answered request first: the mock has accepted the connection and reads
            # it itself from now on (whatever the machine's load).
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: mock\r\n\r\n")
            health = b""
            while not health.endswith(b"}"):
                health += sock.recv(65536)
            os.kill(mock.proc.pid, signal.SIGSTOP)
            try:
                sent = time.perf_counter()
                sock.sendall(REQUEST)
                time.sleep(STOPPED_S)
            finally:
                os.kill(mock.proc.pid, signal.SIGCONT)
            reply = b""
            while b"[DONE]" not in reply:
                chunk = sock.recv(65536)
                assert chunk, reply
                reply += chunk
        return sent, mock.stats()["requests"][-1]


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_truth_starts_when_the_request_arrived(loop):
    sent, truth = request_while_stopped(*(["--no-uvloop"] if loop == "asyncio" else []))
    arrived_ms = (truth["received_at"] - sent) * 1000
    print(f"{loop}: received_at - sent {arrived_ms:.2f} ms, truth TTFT {truth['ttft_ms']:.1f} ms")
    assert 0 <= arrived_ms < 5  # the kernel's stamp, not the read 150 ms later
    assert truth["ttft_ms"] >= STOPPED_S * 1000  # its first token could not leave earlier


def test_without_kernel_stamps_truth_starts_at_the_read(monkeypatch):
    monkeypatch.setenv("LLM_LOAD_KERNEL_STAMPS", "0")
    sent, truth = request_while_stopped()
    assert (truth["received_at"] - sent) * 1000 >= STOPPED_S * 1000 - 5
    assert 35 <= truth["ttft_ms"] < 40 + STOPPED_S * 1000  # 40 ms from the late read
