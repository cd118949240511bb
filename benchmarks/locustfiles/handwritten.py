"""Baseline for `benchmarks/client_overhead.py`: the streaming loop a Locust user would write.

A plain `FastHttpUser` that POSTs a streaming chat completion and reads the SSE body one line
at a time with geventhttpclient's `readline(b"\\n")`, `json.loads` on every `data:` payload,
stamps TTFT at the first content chunk and counts content chunks until `[DONE]`. No llm-load
code. At `test_stop` each process writes `{"pid", "ttft_ms": [...], "chunks", "requests",
"started"}` to `$BENCH_OUT.<pid>.json` (one file per process, so `--processes N` works too).

    BENCH_OUT=/tmp/hw locust -f benchmarks/locustfiles/handwritten.py --headless \\
        -H http://127.0.0.1:8000 -u 128 -r 128 -t 20s
"""

from __future__ import annotations

from locust import FastHttpUser, events, task

import json
import os
import time
from typing import Any

MODEL = os.environ.get("BENCH_MODEL", "mock-llm")
MAX_TOKENS = int(os.environ.get("BENCH_MAX_TOKENS", "128"))
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Write a short story about a robot."}],
    "max_tokens": MAX_TOKENS,
    "stream": True,
    "stream_options": {"include_usage": True},
}
TTFT_MS: list[float] = []
COUNTS = {"chunks": 0, "requests": 0, "started": 0}


class HandwrittenUser(FastHttpUser):
    """One streaming chat completion after another, read line by line."""

    @task
    def chat(self) -> None:
        COUNTS["started"] += 1
        t0 = time.perf_counter()
        first = True
        with self.client.post(
            "/v1/chat/completions", json=BODY, stream=True, catch_response=True
        ) as resp:
            raw = resp._response
            while True:
                line = raw.readline(b"\n")
                if not line:
                    break
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                chunk = json.loads(data)
                choices = chunk.get("choices")
                if choices and choices[0].get("delta", {}).get("content"):
                    if first:
                        TTFT_MS.append((time.perf_counter() - t0) * 1000.0)
                        first = False
                    COUNTS["chunks"] += 1
            COUNTS["requests"] += 1


@events.test_stop.add_listener
def _write_results(environment: Any, **_: Any) -> None:
    out = os.environ.get("BENCH_OUT")
    if not out or (not TTFT_MS and not COUNTS["chunks"]):
        return  # nothing measured here (e.g. the master of --processes)
    path = f"{out}.{os.getpid()}.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"pid": os.getpid(), "ttft_ms": TTFT_MS, **COUNTS}, f)
