"""Helpers for the Prometheus tests: scrape `/metrics` until a process exits, read samples."""

from __future__ import annotations

import subprocess
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape_until_exit(proc: subprocess.Popen, url: str, limit_s: float = 90) -> list[Samples]:
    """Every successful scrape of `url` (every 0.2 s) until `proc` exits."""
    scrapes: list[Samples] = []
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            resp = requests.get(url, timeout=2)
            if resp.status_code == 200:
                scrapes.append(parse(resp.text))
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return scrapes


def assert_counters_equal(samples: Samples, summary: dict) -> None:
    """Every per-model counter and histogram count of `samples` equals the summary's."""
    assert summary["by_model"], "no traffic"
    for model, m in summary["by_model"].items():
        label = (("model", model),)
        for name in ("requests", "failures", "cancelled", "input_tokens", "output_tokens"):
            assert samples[(f"llm_load_{name}_total", label)] == m[name], (model, name)
        for name in ("ttft", "itl", "tpot", "e2e"):
            count = samples[(f"llm_load_{name}_seconds_count", label)]
            assert count == m[f"{name}_ms"]["count"], (model, name)
        if "goodput" in m:
            assert samples[("llm_load_good_requests_total", label)] == m["goodput"]["good"]
    for error in summary["errors"]:
        assert samples[("llm_load_errors_total", (("kind", error["kind"]),))] == error["count"]
