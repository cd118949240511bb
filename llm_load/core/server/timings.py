"""Per-request server timings read off a response's extra object.

llama.cpp puts `timings` on every response (streamed: on the usage chunk): `prompt_ms` is
its prompt processing up to the first sampled token, our `server_ttft_ms`; it has no queue
time. vLLM with `--enable-per-request-metrics` puts `metrics` there:
`time_to_first_token_ms` (from the engine's arrival, queue included) and `queue_time_ms`.
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
        return ttft, _number(extra, "queue_time_ms")
    return _number(extra, "prompt_ms"), None  # llama.cpp
