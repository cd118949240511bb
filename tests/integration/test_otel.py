"""Locust's `--otel` on a master with 2 workers against the mock: our instruments reach an
OTLP/HTTP receiver under the GenAI names with the GenAI attributes, totals equal the summary."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from llm_load.mock.process import spawn_mock
from llm_load.observe.buckets import BOUNDS_S
from tests.conftest import CHAT_LOCUSTFILE, clean_env, load
from tests.integration.test_distributed import free_port

pytest.importorskip("opentelemetry.sdk", reason="needs locust[otel]")

from tests.integration.otlp_receiver import otlp_receiver

pytestmark = pytest.mark.timeout(150)
MOCK = ("--ttft-ms", "40", "--itl-ms", "4", "--tokens", "16", "--error-rate", "0.1")


def locust(*args: str, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "locust", "-f", str(CHAT_LOCUSTFILE), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def otel_env(endpoint: str) -> dict[str, str]:
    return clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        OTEL_SERVICE_NAME="llm-load-test",
    )


def test_master_exports_the_genai_instruments_with_the_summary_totals(summary_path):
    port = str(free_port())
    with otlp_receiver() as receiver, spawn_mock(*MOCK) as mock:
        master = locust(
            "--master", "--headless", "--expect-workers", "2", "-u", "6", "-r", "6", "-t", "5s",
            "-H", mock.base_url, "--model", "mock-llm", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, "--llm-json", str(summary_path), "--otel",
            env=otel_env(receiver.url),
        )  # fmt: skip
        worker_args = ("--worker", "--master-host", "127.0.0.1", "--master-port", port)
        workers = [locust(*worker_args, env=clean_env()) for _ in range(2)]
        _, err = master.communicate(timeout=90)
        for worker in workers:
            worker.communicate(timeout=30)
        assert master.returncode in (0, 1), err[-3000:]
        points = receiver.latest("llm_load")
    s = load(summary_path)
    m, url = s["by_model"]["mock-llm"], urlsplit(mock.base_url)
    common = {
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("server.address", url.hostname),
        ("server.port", url.port),
    }
    model = frozenset({*common, ("gen_ai.request.model", "mock-llm")})

    def value(name: str, *extra: tuple[str, str]) -> int:
        return points[(name, model | set(extra))].as_int

    for name in ("requests", "failures", "cancelled"):
        assert value(f"llm_load.client.{name}") == m[name], name
    assert value("llm_load.client.tokens", ("gen_ai.token.type", "input")) == m["input_tokens"]
    assert value("llm_load.client.tokens", ("gen_ai.token.type", "output")) == m["output_tokens"]
    for error in s["errors"]:
        key = ("llm_load.client.errors", frozenset({*common, ("error.type", error["kind"])}))
        assert points[key].as_int == error["count"]
    for name, ours in (
        ("gen_ai.client.operation.time_to_first_chunk", "ttft_ms"),
        ("gen_ai.client.operation.time_per_output_chunk", "itl_ms"),
        ("gen_ai.client.operation.duration", "e2e_ms"),
        ("llm_load.client.time_per_output_token", "tpot_ms"),
    ):
        hist, summary = points[(name, model)], m[ours]
        assert hist.count == summary["count"] > 0, name
        assert list(hist.explicit_bounds) == pytest.approx(BOUNDS_S)
        true_sum_s = summary["mean"] * summary["count"] / 1000
        assert hist.sum == pytest.approx(true_sum_s, rel=1 / 128), name
