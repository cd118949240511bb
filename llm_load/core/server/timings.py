"""Per-request server timings read off a response's extra object.

llama.cpp puts `timings` on every response (streamed: on the usage chunk): `prompt_ms` is
its prompt processing up to the first sampled token, our `server_ttft_ms`; it has no queue
time. vLLM with `--enable-per-request-metrics` puts `metrics` there:
`queue_time_ms` and `time_to_first_token_ms`, which (measured on vLLM 0.32 CPU) counts
from the request's scheduling, so the queue is *not* in it: our `server_ttft_ms` is their
sum, the time from the engine's arrival to its first token, like vLLM's TTFT histogram.
`outside_ms = ttft_ms - server_ttft_ms` is then what the request spent outside the engine
(API frontend, tokenisation, network, client).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerTimes", "server_times"]

ServerTimes = tuple[float | None, float | None]  # (server_ttft_ms, server_queue_ms)


def _number(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def server_times(extra: Any) -> ServerTimes:
    """`(server_ttft_ms, server_queue_ms)` of a `timings` or `metrics` object."""
    if not isinstance(extra, dict):
        return None, None
    ttft = _number(extra, "time_to_first_token_ms")
    if ttft is not None:  # vLLM
        queue = _number(extra, "queue_time_ms")
        return ttft + (queue or 0.0), queue
    return _number(extra, "prompt_ms"), None  # llama.cpp
