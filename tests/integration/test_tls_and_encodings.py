"""TLS verification and `--insecure`, compressed bodies, and HTTP framing quirks.

TLS: a self-signed HTTPS fault server (certificate made by the `openssl` CLI; skipped
without it) fails every request as `tls_error` naming `--insecure` — Locust's FastHttpUser
would skip verification by default, llm-load verifies — and works with `--insecure`, for
both stream readers and for `llm-load doctor`. Encodings: we ask for `identity`; a server
that gzips or deflates anyway (streamed, flushed per event, or not) is decoded, one that
sends `br` fails as `unsupported_encoding`. Framing: chunk boundaries inside SSE lines and
inside UTF-8 characters, and a body ended by closing the connection, decode exactly —
checked in-process on the decoded text, and in headless runs on counts.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
from time import perf_counter
from types import SimpleNamespace

import pytest
from geventhttpclient import HTTPClient

from llm_load.core.wire.chat import ChatStream
from llm_load.locust.wire import StreamReactor, read_sse
from tests.conftest import clean_env, load, short_run
from tests.integration.fault_server import TEXT, TOKENS, FaultServer

pytestmark = pytest.mark.timeout(120)

READERS = ["reactor", "greenlet"]


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI to make a self-signed certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def run(host: str, summary_path, *extra: str, reader: str = "reactor") -> dict:
    # -t counts from Locust's start, set-up included: leave a loaded machine time to send.
    proc = short_run(
        host, summary_path, "--model", "m", "--stream-reader", reader, *extra, run_time="4s"
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return load(summary_path)


def assert_exact_streams(s: dict) -> None:
    """Every request succeeded with all of `TOKENS` (one token a chunk, no usage sent);
    requests cut off by the test's end (cancelled) add the tokens they had received."""
    t = s["totals"]
    assert t["failures"] == 0 and t["requests"] > 2, s["errors"]
    n = len(TOKENS)
    assert n * t["requests"] <= t["output_tokens"] <= n * (t["requests"] + t["cancelled"])
    assert t["requests"] <= t["ttft_ms"]["count"] <= t["requests"] + t["cancelled"]


# -- TLS ------------------------------------------------------------------------------
def test_self_signed_server_fails_as_tls_error_naming_insecure(summary_path, tls):
    with FaultServer("ok", tls=tls) as server:
        s = run(server.base_url, summary_path)
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    [error] = s["errors"]
    assert error["kind"] == "tls_error"
    assert "CERTIFICATE_VERIFY_FAILED" in error["example"] and "--insecure" in error["example"]


@pytest.mark.parametrize("reader", READERS)
def test_insecure_accepts_a_self_signed_certificate(summary_path, tls, reader):
    with FaultServer("ok", tls=tls) as server:
        s = run(server.base_url, summary_path, "--insecure", reader=reader)
    assert_exact_streams(s)
    assert s["settings"]["insecure"] is True


def doctor(url: str, *args: str) -> tuple[int, dict]:
    cmd = [sys.executable, "-m", "llm_load.cli", "doctor", "-H", url, "--model", "m", "--json"]
    proc = subprocess.run(
        [*cmd, "--timeout", "10", *args], capture_output=True, text=True, timeout=60,
        env=clean_env(),
    )  # fmt: skip
    return proc.returncode, json.loads(proc.stdout)


def test_doctor_verifies_tls_unless_insecure(tls):
    with FaultServer("ok", tls=tls) as server:
        code, verified = doctor(server.base_url)
        code_insecure, insecure = doctor(server.base_url, "--insecure")
    connect = verified["steps"][0]
    assert code == 10 and connect["level"] == "fail" and "not trusted" in connect["message"]
    assert any("--insecure" in hint for hint in connect["hints"])
    # every step passes (warnings: this server sends no usage and calls no tools)
    assert [s["name"] for s in insecure["steps"] if not s["ok"]] == [], insecure["steps"]
    assert insecure["steps"][0]["details"]["tls"].startswith("TLS")
    assert code_insecure == 0 and "--insecure" in insecure["verdict"], insecure


# -- Content-Encoding -------------------------------------------------------------------
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
@pytest.mark.parametrize("reader", READERS)
def test_compressed_streams_are_decoded(summary_path, coding, reader):
    with FaultServer(coding) as server:
        s = run(server.base_url, summary_path, reader=reader)
    assert_exact_streams(s)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_non_streaming_bodies_are_decoded(summary_path, coding):
    with FaultServer(coding) as server:
        s = run(server.base_url, summary_path, "--no-stream")
    t = s["totals"]
    assert t["failures"] == 0 and t["requests"] > 2, s["errors"]
    assert t["output_tokens"] == round(len(TEXT) / 4) * t["requests"]  # estimated from text


@pytest.mark.parametrize("stream", [True, False])
def test_an_encoding_we_cannot_decode_is_unsupported_encoding(summary_path, stream):
    with FaultServer("br") as server:
        s = run(server.base_url, summary_path, *(() if stream else ("--no-stream",)))
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    [error] = s["errors"]
    assert error["kind"] == "unsupported_encoding"
    assert "'br'" in error["example"] and "identity" in error["example"]


# -- framing ------------------------------------------------------------------------------
def read_in_process(server: FaultServer, reactor: StreamReactor | None) -> ChatStream:
    """One streamed request read by our transport in this process: the decoded stream."""
    client = HTTPClient("127.0.0.1", server.port, network_timeout=10, connection_timeout=10)
    try:
        raw = client.request("POST", "/v1/chat/completions", body=b'{"stream": true}')
        chat = ChatStream()
        read_sse(SimpleNamespace(_response=raw), chat, perf_counter(), reactor)
        return chat
    finally:
        client.close()


@pytest.mark.parametrize("mode", ["split", "gzip", "until_close"])
@pytest.mark.parametrize("reader", READERS)
def test_decoded_text_is_exact(mode, reader):
    reactor = StreamReactor(idle_timeout_s=10) if reader == "reactor" else None
    try:
        with FaultServer(mode) as server:
            chats = [read_in_process(server, reactor) for _ in range(3)]
    finally:
        if reactor is not None:
            reactor.close()
    for chat in chats:
        assert (chat.content, chat.finish_reason, chat.done) == (TEXT, "stop", True)
        assert chat.invalid_chunks == 0 and len(chat.token_times_s) == len(TOKENS)


@pytest.mark.parametrize("mode", ["split", "until_close"])
@pytest.mark.parametrize("reader", READERS)
def test_framing_quirks_under_load(summary_path, mode, reader):
    with FaultServer(mode) as server:
        s = run(server.base_url, summary_path, reader=reader)
    assert_exact_streams(s)
