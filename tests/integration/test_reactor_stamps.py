"""Arrival stamps come from the kernel: a client busy elsewhere when a token arrives still
times it right. The mock's truth and our stamps share one clock (`perf_counter` is
CLOCK_MONOTONIC, the same in every process), so each token's stamp is compared with the
moment the mock wrote it."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from types import SimpleNamespace

import gevent
import orjson
import pytest
from gevent.monkey import get_original

from llm_load.core.wire.chat import ChatStream
from llm_load.kernel_stamps import enabled as kernel_stamps_enabled
from llm_load.locust.wire import StreamReactor, Wire, WireClient, apply_patches, patches, read_sse
from llm_load.mock.process import spawn_mock

pytestmark = pytest.mark.timeout(60)

blocking_sleep = get_original("time", "sleep")
STALL_S = 0.1  # the whole process (hub included) cannot run for 100 ms
BODY = orjson.dumps(
    {"model": "mock-llm", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
)


@pytest.fixture(autouse=True)
def patched_transport():
    apply_patches()  # as install() does: the stamped header read


def client_with(port: int, reactor: StreamReactor) -> WireClient:
    """A client whose connections the reactor watches (as `LLMUser`'s), and whose pooled
    connection check does not yield between the clock and the send."""
    wire = Wire(reactor)
    return WireClient("127.0.0.1", port, wire=wire, network_timeout=10, connection_timeout=10)


def stalled_request(port: int, stall: str, kernel_stamps: bool) -> tuple[float, ChatStream]:
    """A streamed request whose first token arrives while this process cannot run: stalled
    once the headers were read (the reactor reads the token late) or before (the header
    read takes the token with the headers)."""
    reactor = StreamReactor(idle_timeout_s=10, kernel_stamps=kernel_stamps)
    client = client_with(port, reactor)
    try:
        warm = client.request("POST", "/v1/chat/completions", body=BODY)  # keep-alive
        read_sse(SimpleNamespace(_response=warm), ChatStream(), perf_counter(), reactor)
        if stall == "before_headers":  # runs as soon as the request waits for its answer
            gevent.spawn(blocking_sleep, STALL_S)
        t0 = perf_counter()
        raw = client.request("POST", "/v1/chat/completions", body=BODY)
        if stall == "after_headers":
            gevent.spawn_later(0.01, blocking_sleep, STALL_S)
        chat = ChatStream()
        read_sse(SimpleNamespace(_response=raw), chat, t0, reactor)
        return t0, chat
    finally:
        reactor.close()
        client.close()


def token_lateness_ms(
    mock_args: tuple[str, ...], send: Callable[[int], tuple[float, ChatStream]]
) -> tuple[ChatStream, list[float]]:
    """`send(port)` one request to a mock; each token's stamp minus when the mock wrote it."""
    with spawn_mock(*mock_args) as mock:
        t0, chat = send(int(mock.base_url.rsplit(":", 1)[1]))
        truth = mock.stats(detail=True)["requests"][-1]
    written = [truth["received_at"] + ms / 1000 for ms in truth["token_offsets_ms"]]
    stamped = [t0 + t for t in chat.token_times_s]
    return chat, [(s - w) * 1000 for s, w in zip(stamped, written, strict=True)]


@pytest.mark.parametrize("stall", ["after_headers", "before_headers"])
@pytest.mark.parametrize("kernel_stamps", [True, False])
def test_a_token_is_stamped_when_it_arrived_not_when_it_was_read(monkeypatch, kernel_stamps, stall):
    mock_args = ("--ttft-ms", "40", "--itl-ms", "200", "--tokens", "3")
    send = lambda port: stalled_request(port, stall, kernel_stamps)  # noqa: E731
    chat, late_ms = token_lateness_ms(mock_args, send)
    print(f"kernel_stamps={kernel_stamps} stall={stall} late_ms={[round(x, 3) for x in late_ms]}")
    assert chat.done and len(late_ms) == 3
    assert all(late > -0.5 for late in late_ms), late_ms  # never before the mock wrote it
    if kernel_stamps:  # the first token came at ~40 ms, during the stall: still exact
        assert all(late < 2.0 for late in late_ms), late_ms
    else:  # stamped when read: the first token is as late as the stall
        assert late_ms[0] > 40 and all(late < 2.0 for late in late_ms[1:]), late_ms


def test_kernel_stamps_are_on_here():
    """CI runs Linux on 64 bits: the stamps above must be the kernel's, not a fallback."""
    assert kernel_stamps_enabled()


def late_reader_request(port: int, watch: bool) -> tuple[float, ChatStream]:
    """A streamed request whose user greenlet reads its headers 150 ms late (other greenlets
    keep it from running; the hub, and so the reactor, runs on), after several tokens."""
    reactor = StreamReactor(idle_timeout_s=10)
    if not watch:
        reactor.watch = lambda raw: None  # type: ignore[method-assign]  # never watches
    client = client_with(port, reactor)
    try:
        t0 = perf_counter()
        raw = client.request("POST", "/v1/chat/completions", body=BODY)
        chat = ChatStream()
        read_sse(SimpleNamespace(_response=raw), chat, t0, reactor)
        return t0, chat
    finally:
        reactor.close()
        client.close()


@pytest.mark.parametrize("watch", [True, False])
def test_tokens_queued_behind_late_headers_keep_their_own_arrival(monkeypatch, watch):
    """Unread segments are merged in the kernel under the newest one's stamp; the reactor's
    peeks from the moment the request is sent keep each token's own arrival."""
    read_headers = patches._read_headers_stamped

    def late(*args: object) -> float | None:
        gevent.sleep(0.15)
        return read_headers(*args)

    monkeypatch.setattr(patches, "_read_headers_stamped", late)
    mock_args = ("--ttft-ms", "40", "--itl-ms", "20", "--tokens", "8")
    chat, late_ms = token_lateness_ms(mock_args, lambda port: late_reader_request(port, watch))
    print(f"watch={watch} late_ms={[round(x, 3) for x in late_ms]}")
    assert chat.done and len(late_ms) == 8
    assert all(late > -0.5 for late in late_ms), late_ms
    if watch:  # 6 tokens had arrived before the headers were read: each keeps its time
        assert all(late < 2.0 for late in late_ms), late_ms
    else:  # merged: the first tokens take the stamp of the last one before the read
        assert late_ms[0] > 60, late_ms
