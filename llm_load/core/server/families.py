"""Server families: which Prometheus names of a server mean which normalised series.

A family is recognised by the prefix most of a scrape's sample names carry: vLLM
(`vllm:`), llama.cpp (`llamacpp:`, with `--metrics`), SGLang (`sglang:`) and TGI (`tgi_`).
Each entry lists candidate names, newest first (servers rename metrics between versions);
the first one present in a scrape is used. Gauges are read as they are (`running`,
`waiting`, `kv_cache_usage` 0–1, `prefix_cache_hit_rate` when the server keeps it as a
gauge); counters are turned into deltas and rates; histograms (seconds) into per-interval
percentiles in ms. Names checked against a real server are marked in `docs/server-metrics.md`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from llm_load.core.server.prometheus import Snapshot

__all__ = ["FAMILIES", "UNKNOWN", "Family", "detect_family"]

Names = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Family:
    """One server family's mapping from normalised names to candidate metric names."""

    name: str
    prefix: str
    gauges: Mapping[str, Names] = field(default_factory=dict)
    counters: Mapping[str, Names] = field(default_factory=dict)
    histograms: Mapping[str, Names] = field(default_factory=dict)  # seconds, name w/o _bucket

    def pick(self, snap: Snapshot, names: Names, histogram: bool = False) -> str | None:
        """The first of `names` present in `snap`."""
        present = snap.buckets if histogram else snap.values
        return next((n for n in names if n in present), None)


VLLM = Family(
    "vllm",
    "vllm:",
    gauges={
        "running": ("vllm:num_requests_running",),
        "waiting": ("vllm:num_requests_waiting",),
        "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    },
    counters={
        "generated_tokens": ("vllm:generation_tokens_total",),
        "prompt_tokens": ("vllm:prompt_tokens_total",),
        "prefix_cache_hits": ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"),
        "prefix_cache_queries": (
            "vllm:prefix_cache_queries_total",
            "vllm:gpu_prefix_cache_queries_total",
        ),
        "preemptions": ("vllm:num_preemptions_total",),
        "requests": ("vllm:request_success_total",),
    },
    histograms={
        "ttft_ms": ("vllm:time_to_first_token_seconds",),
        "itl_ms": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
        "e2e_ms": ("vllm:e2e_request_latency_seconds",),
        "queue_ms": ("vllm:request_queue_time_seconds",),
    },
)
LLAMACPP = Family(
    "llamacpp",
    "llamacpp:",
    gauges={
        "running": ("llamacpp:requests_processing",),
        "waiting": ("llamacpp:requests_deferred",),
        "kv_cache_usage": ("llamacpp:kv_cache_usage_ratio",),
    },
    counters={
        "generated_tokens": ("llamacpp:tokens_predicted_total",),
        "prompt_tokens": ("llamacpp:prompt_tokens_total",),
        "prompt_tokens_cached": ("llamacpp:prompt_tokens_cached_total",),
    },
)
SGLANG = Family(
    "sglang",
    "sglang:",
    gauges={
        "running": ("sglang:num_running_reqs",),
        "waiting": ("sglang:num_queue_reqs",),
        "kv_cache_usage": ("sglang:token_usage",),
        "prefix_cache_hit_rate": ("sglang:cache_hit_rate",),
    },
    counters={
        "generated_tokens": ("sglang:generation_tokens_total",),
        "prompt_tokens": ("sglang:prompt_tokens_total",),
        "requests": ("sglang:num_requests_total",),
    },
    histograms={
        "ttft_ms": ("sglang:time_to_first_token_seconds",),
        "itl_ms": ("sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"),
        "e2e_ms": ("sglang:e2e_request_latency_seconds",),
        "queue_ms": ("sglang:queue_time_seconds",),
    },
)
TGI = Family(
    "tgi",
    "tgi_",
    gauges={"running": ("tgi_batch_current_size",), "waiting": ("tgi_queue_size",)},
    counters={
        "generated_tokens": ("tgi_request_generated_tokens_sum",),
        "prompt_tokens": ("tgi_request_input_length_sum",),
        "requests": ("tgi_request_success",),
    },
    histograms={
        "itl_ms": ("tgi_request_mean_time_per_token_duration",),
        "e2e_ms": ("tgi_request_duration",),
        "queue_ms": ("tgi_request_queue_duration",),
    },
)
UNKNOWN = Family("unknown", "")
FAMILIES = (VLLM, LLAMACPP, SGLANG, TGI)


def detect_family(snap: Snapshot) -> Family:
    """The family whose prefix most sample names carry, or `UNKNOWN`."""
    names = snap.names()
    best, best_count = UNKNOWN, 0
    for family in FAMILIES:
        count = sum(name.startswith(family.prefix) for name in names)
        if count > best_count:
            best, best_count = family, count
    return best
