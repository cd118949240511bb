"""Pure pieces of the hardening work: content decoding, key scrubbing, failure kinds, options.

`body_decoder` is fed real gzip / deflate streams split at every byte boundary (as the
network may split them); `failure_kind` maps each transport exception to its documented kind
(a DNS failure is built here, never looked up); `Settings` reads `--ttft-timeout` and
`--insecure` from Locust options and web-form text.
"""

from __future__ import annotations

import socket
import ssl
import zlib
from types import SimpleNamespace

import pytest
from geventhttpclient.response import HTTPConnectionClosed

from llm_load.core.wire.encoding import InvalidEncoding, UnsupportedEncoding, body_decoder
from llm_load.core.wire.endpoint import scrub
from llm_load.locust.settings import Settings
from llm_load.locust.user import failure_kind, http_failure
from llm_load.locust.wire import StreamClosed, TTFTTimeout

BODY = 'data: {"choices":[{"delta":{"content":"Grüße 東京 🤖"}}]}\n\n'.encode() * 20


def compress(coding: str, data: bytes, flush_every: int = 0) -> bytes:
    wbits = {"gzip": 31, "deflate": 15, "raw": -15}[coding]
    z = zlib.compressobj(wbits=wbits)
    if not flush_every:
        return z.compress(data) + z.flush()
    parts = [z.compress(data[i : i + flush_every]) + z.flush(zlib.Z_SYNC_FLUSH)
             for i in range(0, len(data), flush_every)]  # fmt: skip
    return b"".join(parts) + z.flush()


def decode_split(header: str, encoded: bytes, at: int) -> bytes:
    decoder = body_decoder(header)
    assert decoder is not None
    return decoder.feed(encoded[:at]) + decoder.feed(encoded[at:])


@pytest.mark.parametrize(
    ("header", "coding"),
    [("gzip", "gzip"), ("x-gzip", "gzip"), ("deflate", "deflate"), ("Deflate", "raw")],
)
def test_compressed_bodies_decode_at_every_split(header, coding):
    encoded = compress(coding, BODY)
    assert all(decode_split(header, encoded, at) == BODY for at in range(len(encoded) + 1))


def test_a_flushed_gzip_stream_yields_each_event_as_it_arrives():
    encoded = compress("gzip", BODY, flush_every=len(BODY) // 20)
    decoder = body_decoder("gzip")
    assert decoder is not None
    one_event = len(encoded) // 20  # about one flushed event's compressed size
    assert decoder.feed(encoded[: one_event + 8]).startswith(b"data: ")


def test_stacked_codings_are_undone_in_reverse_order():
    encoded = compress("gzip", compress("deflate", BODY))
    assert decode_split("deflate, gzip", encoded, 7) == BODY


@pytest.mark.parametrize("header", [None, "", "identity", " Identity "])
def test_identity_needs_no_decoder(header):
    assert body_decoder(header) is None


@pytest.mark.parametrize("header", ["br", "zstd", "gzip, br", "compress"])
def test_unknown_codings_are_unsupported_with_a_clear_message(header):
    with pytest.raises(UnsupportedEncoding, match="Accept-Encoding: identity"):
        body_decoder(header)


def test_corrupt_gzip_is_invalid_encoding():
    decoder = body_decoder("gzip")
    assert decoder is not None
    with pytest.raises(InvalidEncoding, match="not valid gzip"):
        decoder.feed(b"data: this is not gzip\n\n")


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("Incorrect key: sk-abc123. Bye", "sk-abc123", "Incorrect key: [redacted]. Bye"),
        ("k=sk-abc123 k=sk-abc123", "sk-abc123", "k=[redacted] k=[redacted]"),
        ("nothing to hide", "sk-abc123", "nothing to hide"),
        ("no key configured", "", "no key configured"),
        ("a 3-character key would mangle words", "key", "a 3-character key would mangle words"),
    ],
)
def test_scrub_replaces_the_key(text, key, expected):
    assert scrub(text, key) == expected


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns_error"),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), "dns_error"),
        (ConnectionRefusedError(111, "Connection refused"), "connection_refused"),
        (TimeoutError("timed out"), "timeout"),
        (TTFTTimeout("no token within 0.5 s"), "ttft_timeout"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "tls_error"),
        (ssl.SSLError(1, "wrong version number"), "tls_error"),
        (StreamClosed("closed"), "connection_closed"),
        (ConnectionResetError(104, "reset"), "connection_closed"),
        (HTTPConnectionClosed("connection closed."), "connection_closed"),  # before a byte
        (UnsupportedEncoding("br"), "unsupported_encoding"),
        (InvalidEncoding("bad gzip"), "invalid_encoding"),
        (OSError(113, "No route to host"), "connection_error"),
    ],
)
def test_failure_kinds(error, kind):
    assert failure_kind(error) == kind


def test_a_timeout_wrapped_by_geventhttpclient_is_a_timeout():
    from geventhttpclient.useragent import RetriesExceeded

    assert failure_kind(RetriesExceeded("http://h/v1", 0, original=TimeoutError("x"))) == "timeout"


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (429, {"retry-after": "3"}, "rate limited (Retry-After: 3): (empty body)"),
        (429, {}, "rate limited: (empty body)"),
        (503, {"retry-after": "3"}, "(empty body)"),
    ],
)
def test_http_failure_makes_rate_limiting_visible(status, headers, message):
    resp = SimpleNamespace(status_code=status, headers=headers, _response=None)
    assert http_failure(resp) == (f"http_{status}", message)


def options(**values):
    base = {"model": "m", "api_key": "", "prompt": "p", "request_timeout": 60.0}
    return SimpleNamespace(**{**base, **values})


@pytest.mark.parametrize(
    ("values", "ttft", "insecure"),
    [
        ({}, 0.0, False),
        ({"ttft_timeout": 2.5, "insecure": True}, 2.5, True),
        ({"ttft_timeout": "0.5", "insecure": "true"}, 0.5, True),  # web-form text
        ({"ttft_timeout": "", "insecure": "false"}, 0.0, False),
        ({"ttft_timeout": -1.0}, 0.0, False),
    ],
)
def test_ttft_timeout_and_insecure_options(values, ttft, insecure):
    s = Settings.from_options(options(**values), "https://h", {})
    assert (s.ttft_timeout_s, s.insecure) == (ttft, insecure)
    assert (s.public()["ttft_timeout_s"], s.public()["insecure"]) == (ttft, insecure)
