"""Embedded OpenAI-compatible mock LLM server with ground-truth timing.

Serves ``/v1/models`` and ``/v1/chat/completions`` (streaming SSE and non-streaming) with
configurable per-model time-to-first-token and inter-token latency, deterministic output text,
optional API-key auth, optional injected faults (HTTP errors, dropped connections, stalls), and
a ``GET /stats`` log of exactly when every token was written (and which fault each request got)
so tests and benchmarks can check client-side measurements. Run it with
``python -m llm_load.mock`` or ``llm-load mock``; use :func:`spawn_mock` to run it as a
subprocess.
"""

from llm_load.mock.config import MockConfig, MockModel
from llm_load.mock.process import MockProcess, spawn_mock
from llm_load.mock.server import MockServer

__all__ = ["MockConfig", "MockModel", "MockProcess", "MockServer", "spawn_mock"]
