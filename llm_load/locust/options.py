"""llm-load's Locust command-line options (each also an `LLM_LOAD_<NAME>` env var).

Registered on Locust's own parser through `init_command_line_parser`, so they show in
`locust --help`, in `locust.conf`, in the web UI start form (the API key as a masked
secret field) and reach workers with the master's parsed options. Nothing is read here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_arguments"]

DEFAULT_PROMPT = "Write a short story about a robot who learns to paint."


def add_arguments(parser: Any) -> None:
    """Add our options to Locust's `LocustArgumentParser`."""
    add = parser.add_argument
    add(
        "--model",
        env_var="LLM_LOAD_MODEL",
        default="",
        help="Model id to request (default: the first id served by GET /v1/models)",
    )
    add(
        "--api-key",
        env_var="LLM_LOAD_API_KEY",
        default="",
        is_secret=True,
        help="API key sent as 'Authorization: Bearer KEY' (falls back to OPENAI_API_KEY)",
    )
    add(
        "--max-tokens",
        env_var="LLM_LOAD_MAX_TOKENS",
        type=int,
        default=128,
        help="max_tokens per request (output length cap)",
    )
    add(
        "--prompt",
        env_var="LLM_LOAD_PROMPT",
        default=DEFAULT_PROMPT,
        help="User prompt sent by the chat user",
    )
    add(
        "--temperature",
        env_var="LLM_LOAD_TEMPERATURE",
        type=float,
        default=None,
        help="Sampling temperature (default: not sent, the server's default)",
    )
    add(
        "--no-stream",
        env_var="LLM_LOAD_NO_STREAM",
        action="store_true",
        default=False,
        help="Send non-streaming requests (no TTFT/ITL then)",
    )
    add(
        "--request-timeout",
        env_var="LLM_LOAD_REQUEST_TIMEOUT",
        type=float,
        default=60.0,
        help="Seconds without any byte from the server before a request fails (stall timeout)",
    )
    add(
        "--ttft-timeout",
        env_var="LLM_LOAD_TTFT_TIMEOUT",
        type=float,
        default=0.0,
        metavar="S",
        help="Seconds after sending by which a streamed request's first token must arrive, "
        "else it fails as ttft_timeout (0: off, the default)",
    )
    add(
        "--insecure",
        env_var="LLM_LOAD_INSECURE",
        action="store_true",
        default=False,
        help="Do not verify the server's TLS certificate (self-signed or private CA); "
        "verified by default",
    )
    add(
        "--llm-json",
        env_var="LLM_LOAD_LLM_JSON",
        default="",
        include_in_web_ui=False,
        help="Write the LLM run summary (summary.json schema) to this path when the test stops",
    )
    add(
        "--llm-requests",
        env_var="LLM_LOAD_LLM_REQUESTS",
        default="",
        metavar="PATH",
        include_in_web_ui=False,
        help="Write every LLM call as one JSON line to this file (on the master in "
        "distributed runs; workers ship their rows with their reports)",
    )
    add(
        "--llm-html",
        env_var="LLM_LOAD_LLM_HTML",
        default="",
        metavar="PATH",
        include_in_web_ui=False,
        help="Write the self-contained HTML report (charts) to this path when the test stops",
    )
    add(
        "--tool-cases",
        env_var="LLM_LOAD_TOOL_CASES",
        default="",
        metavar="PATH",
        help="Tool-call dataset (JSONL) for locustfiles/tools.py "
        "(default: the shipped scenarios/data/tools_basic.jsonl)",
    )
    add(
        "--tool-turns",
        env_var="LLM_LOAD_TOOL_TURNS",
        type=int,
        default=3,
        help="Most requests of one tool task: after a tool call the results are sent back "
        "until a text answer or this many turns (1: no loop)",
    )
    add(
        "--stream-reader",
        env_var="LLM_LOAD_STREAM_READER",
        choices=("reactor", "greenlet"),
        default="reactor",
        include_in_web_ui=False,
        help="How streams are read: one epoll reactor per process with batched wake-ups "
        "(reactor, default) or each user's greenlet reading its own socket (greenlet)",
    )
    add(
        "--scenario",
        env_var="LLM_LOAD_SCENARIO",
        default="",
        metavar="PATH",
        help="YAML scenario run by locustfiles/scenario.py (model mix, prompts, load, "
        "thresholds); see docs/scenarios.md",
    )
    add(
        "--threshold",
        env_var="LLM_LOAD_THRESHOLD",
        action="append",
        default=None,
        metavar="EXPR",
        include_in_web_ui=False,
        help="Pass/fail check on the run summary, repeatable, e.g. 'ttft_ms.p99 < 500', "
        "'error_rate <= 0.01', 'itl_ms.p95@MODEL < 50'. Exit code 3 when one fails",
    )
    add(
        "--slo",
        env_var="LLM_LOAD_SLO",
        action="append",
        default=None,
        metavar="EXPR",
        include_in_web_ui=False,
        help="Per-request SLO limit in ms, repeatable: 'ttft_ms <= 500', 'itl_ms <= 50' (the "
        "request's mean ITL), 'tpot_ms <= 50', 'e2e_ms <= 10000'. Adds goodput (requests "
        "meeting every limit) to the summary; overrides the scenario's slo: per metric",
    )
    add(
        "--server-metrics",
        env_var="LLM_LOAD_SERVER_METRICS",
        nargs="?",
        const="host",
        default="auto",
        metavar="URL",
        include_in_web_ui=False,
        help="Scrape the server's Prometheus metrics during the run (one process: the master "
        "or the local runner): URL, or without a value {host}/metrics. Default 'auto': "
        "{host}/metrics when it answers; 'off' disables",
    )
    add(
        "--server-metrics-interval",
        env_var="LLM_LOAD_SERVER_METRICS_INTERVAL",
        type=float,
        default=1.0,
        metavar="S",
        include_in_web_ui=False,
        help="Seconds between two scrapes of --server-metrics (default 1)",
    )
    add(
        "--server-metric",
        env_var="LLM_LOAD_SERVER_METRIC",
        action="append",
        default=None,
        metavar="NAME",
        include_in_web_ui=False,
        help="Keep this server metric's raw samples (sum over labels), repeatable; all "
        "that is kept from a server whose family is not recognised",
    )
