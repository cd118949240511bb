"""Micro-benchmark for `llm_load.core.wire.sse.SSEDecoder` (prints events/s).

Feeds a recorded-like stream of 100,000 vLLM-style chat-completion chunk events, cut into
blocks of 1 event and of 16 events (the block boundaries a streaming HTTP client typically
sees), plus unaligned 4 KiB reads and CRLF line endings to show the general (slow) path.
Run: ``python benchmarks/sse_decoder.py [n_events]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from llm_load.core.wire.sse import SSEDecoder

_TOKENS = [" the", " quick", " brown", " fox", " jumps", " over", " lazy", " dog", ",", "."]


def make_events(n_events: int) -> list[bytes]:
    """Return ``n_events`` complete SSE events (``data: {...}\\n\\n``) as vLLM emits them."""
    head = (
        b'data: {"id":"chatcmpl-3c1f5e9a8b7d4e2f9a0b1c2d3e4f5a6b","object":"chat.completion.chunk",'
        b'"created":1718031245,"model":"Qwen/Qwen2.5-0.5B-Instruct","choices":[{"index":0,'
        b'"delta":{"content":"'
    )
    tail = b'"},"logprobs":null,"finish_reason":null}]}\n\n'
    return [head + _TOKENS[i % len(_TOKENS)].encode() + tail for i in range(n_events)]


def group(events: list[bytes], per_block: int) -> list[bytes]:
    """Concatenate consecutive events into blocks of ``per_block`` events."""
    return [b"".join(events[i : i + per_block]) for i in range(0, len(events), per_block)]


def fixed_reads(stream: bytes, size_bytes: int) -> list[bytes]:
    """Cut a stream into reads of ``size_bytes`` regardless of event boundaries."""
    return [stream[i : i + size_bytes] for i in range(0, len(stream), size_bytes)]


def run(name: str, blocks: list[bytes], n_events: int, repeat: int = 5) -> None:
    """Decode ``blocks`` ``repeat`` times; print the best events/s."""
    best_s = float("inf")
    for _ in range(repeat):
        decoder = SSEDecoder()
        feed: Callable[[bytes], list[bytes]] = decoder.feed
        got = 0
        start_s = time.perf_counter()
        for block in blocks:
            got += len(feed(block))
        got += len(decoder.flush())
        best_s = min(best_s, time.perf_counter() - start_s)
        if got != n_events:
            raise SystemExit(f"{name}: decoded {got} events, expected {n_events}")
    rate = n_events / best_s
    print(f"{name:<26} {rate:>12,.0f} events/s  ({best_s * 1e9 / n_events:,.0f} ns/event)")


def main() -> None:
    n_events = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    events = make_events(n_events)
    stream = b"".join(events)
    python = sys.version.split()[0]
    print(f"{n_events:,} events, {len(stream) / n_events:.0f} bytes/event, Python {python}")
    run("1 event per block", group(events, 1), n_events)
    run("16 events per block", group(events, 16), n_events)
    run("4 KiB reads (unaligned)", fixed_reads(stream, 4096), n_events)
    crlf = [e.replace(b"\n", b"\r\n") for e in events]
    run("CRLF, 1 event per block", crlf, n_events)


if __name__ == "__main__":
    main()
