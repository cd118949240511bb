"""Per-request server timings read off a response's extra object.

llama.cpp puts `timings` on every response (streamed: on the usage chunk): `prompt_ms` is
its prompt processing up to the first sampled token, our `server_ttft_ms`; it has no queue
time. vLLM with `--enable-per-request-metrics` puts `metrics` there:
`queue_time_ms` and `time_to_first_token_ms`, which (measured on vLLM 0.32 CPU) counts
from the request's scheduling, so the queue is *not* in it: our `server_ttft_ms` is their
sum, the time from the engine's arrival to its first token, like vLLM's TTFT histogram.
`outside_ms = ttft_ms - server_ttft_ms` is then what the request spent outside the engine
(API frontend, tokenisation, network, client). llama.cpp's `cache_n` (prompt tokens served
from its KV cache) is `server_cached_tokens`, the request's `cached_tokens` when its usage
has no `prompt_tokens_details` (llama.cpp builds before it had one; the build here sends
both, equal).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerTimes", "server_cached_tokens", "server_times"]

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


def server_cached_tokens(extra: Any) -> int | None:
    """llama.cpp's `timings.cache_n`: prompt tokens it served from its cache, or None."""
    value = extra.get("cache_n") if isinstance(extra, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
