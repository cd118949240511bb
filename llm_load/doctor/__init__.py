"""`llm-load doctor` and `llm-load models`: diagnose an OpenAI-compatible endpoint in one run.

Checks, in order, each one step with level ok / warn / fail (or skip after a hard failure):
connect (DNS, TCP, TLS), endpoint (`GET /models`; on a 404, the base URL that works), auth
(no key, empty key or rejected key, with the server's own message), model (served ids and
close matches), chat (1 token), stream (SSE, role, content, usage, reasoning, TTFT) and tools
(a forced tool call; only ever warns). Exit codes: `EXIT_CODES` (0 when nothing failed).
"""

from llm_load.core.wire.endpoint import ApiKey, resolve_key
from llm_load.core.wire.endpoint import scrub_secrets as scrub
from llm_load.doctor.base import Step, Target
from llm_load.doctor.endpoint import candidate_bases, host_for
from llm_load.doctor.model import close_models
from llm_load.doctor.run import (
    EXIT_CODES,
    INTERNAL_ERROR,
    DoctorRun,
    context_length,
    list_models,
    run_doctor,
)

__all__ = [
    "EXIT_CODES",
    "INTERNAL_ERROR",
    "ApiKey",
    "DoctorRun",
    "Step",
    "Target",
    "candidate_bases",
    "close_models",
    "context_length",
    "host_for",
    "list_models",
    "resolve_key",
    "run_doctor",
    "scrub",
]
