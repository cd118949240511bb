"""Each API a real server serves, in a short headless run: output tokens equal what the
server itself counted (its Prometheus generation counter), every response reported usage.

llama.cpp (`--embeddings --pooling mean`, which still generates): completions, responses,
messages and embeddings (input tokens equal the usage of the same request sent once by
hand). vLLM: completions, responses, messages (no embeddings with its generative model);
its random weights sometimes end a reply at once without text, an `empty_response` failure.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import load, short_run
from tests.real.servers_metrics import RealServer, serve

pytestmark = [pytest.mark.real, pytest.mark.timeout(1200)]
EXTRA = {"llama": "--embeddings --pooling mean", "vllm": ""}
APIS = {
    "llama": ("completions", "responses", "messages", "embeddings"),
    "vllm": ("completions", "responses", "messages"),
}
GENERATED = {"llama": "llamacpp:tokens_predicted_total", "vllm": "vllm:generation_tokens_total"}
PROMPT = "Write one sentence about rivers."
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module", params=["llama", "vllm"])
def server(request: pytest.FixtureRequest) -> Iterator[RealServer]:
    with serve(request.param, slots=2, extra_args=EXTRA[request.param]) as running:
        yield running


def counter(server: RealServer, name: str) -> float:
    """The sum of a counter's samples on the server's /metrics."""
    with _OPENER.open(server.base_url + "/metrics", timeout=30) as resp:
        text = resp.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))  # fmt: skip


def run(server: RealServer, path: Path, api: str) -> dict:
    proc = short_run(
        server.base_url, path, "--api", api, "--prompt", PROMPT, "--max-tokens", "8",
        "--stop-timeout", "300", "--request-timeout", "300", "--server-metrics", "off",
        users=2, run_time="4s",
    )  # fmt: skip
    summary = load(path)
    # vLLM's random weights can end a reply at once, without text: llm-load counts that as a
    # failed empty response (the tokens still count); nothing else may fail.
    assert {e["kind"] for e in summary["errors"]} <= {"empty_response"}, summary["errors"]
    assert proc.returncode == (1 if summary["errors"] else 0), proc.stderr[-3000:]
    return summary


def embedding_usage(server: RealServer, model: str) -> int:
    body = json.dumps({"model": model, "input": PROMPT, "encoding_format": "float"}).encode()
    req = urllib.request.Request(server.base_url + "/v1/embeddings", data=body,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with _OPENER.open(req, timeout=120) as resp:
        return int(json.loads(resp.read())["usage"]["prompt_tokens"])


def test_each_api_reports_what_the_server_counted(server, tmp_path):
    for api in APIS[server.kind]:
        before = counter(server, GENERATED[server.kind])
        s = run(server, tmp_path / f"{api}.json", api)
        generated = counter(server, GENERATED[server.kind]) - before
        ((model, m),) = s["by_model"].items()
        print(f"\n{server.kind} {api}: {m['requests']} requests, {m['output_tokens']} output "
              f"tokens (server: {generated:g}), {m['input_tokens']} input tokens")  # fmt: skip
        assert m["api"] == api and m["requests"] > 0, s["errors"]
        assert m["cancelled"] == 0 and m["failures"] <= m["requests"] // 10
        assert m["usage_reported"] == m["requests"]
        if api == "embeddings":
            assert m["output_tokens"] == 0 and m["ttft_ms"]["count"] == 0
            assert m["input_tokens"] == m["requests"] * embedding_usage(server, model)
        else:
            assert m["output_tokens"] == generated > 0
            assert m["ttft_ms"]["count"] == m["requests"] - m["failures"]
