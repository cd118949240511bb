"""llm-load's Locust command-line options: one table, each also an `LLM_LOAD_<NAME>` env var.

`OPTIONS` is the only place an option is written: flag, default, help, how its parsed (or
web-form text) value becomes a `Settings` value and how the run summary shows it. From it,
`add_arguments` registers them on Locust's own parser through `init_command_line_parser`, so
they show in `locust --help`, in `locust.conf`, in the web UI start form (the API key as a
masked secret field) and reach workers with the master's parsed options; `Settings` reads
and shows them (`llm_load.locust.settings`). Nothing is read here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llm_load.core.metrics.slo import SLO
from llm_load.core.metrics.thresholds import Threshold, parse_threshold
from llm_load.core.metrics.warmup import parse_warmup
from llm_load.core.wire.endpoint import parse_header, redact, shown_headers
from llm_load.core.wire.protocols import API_NAMES

__all__ = ["DEFAULT_PROMPT", "OPTIONS", "Option", "add_arguments", "parsed_defaults"]

DEFAULT_PROMPT = "Write a short story about a robot who learns to paint."

Reader = Callable[[Any, Any], Any]  # (parsed or web-form value, the option's default) -> value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _int(value: Any) -> int | None:
    """An integer from a CLI value or web-form text; None when blank."""
    return None if _blank(value) else int(value)


def _float(value: Any, default: Any = None) -> float | None:
    """A number from a CLI value or web-form text; None when blank."""
    return None if _blank(value) else float(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def _text(value: Any, default: Any) -> str:
    return value or ""


def _text_or_default(value: Any, default: Any) -> Any:
    return value or default


def _max_tokens(value: Any, default: Any) -> int | None:
    tokens = _int(value)
    return tokens if tokens and tokens > 0 else None  # blank or <= 0: no cap sent


def _float_or_default(value: Any, default: float) -> float:
    return _float(value) or default


def _seconds_or_off(value: Any, default: float) -> float:
    return max(0.0, _float(value) or default)


def _turns(value: Any, default: int) -> int:
    return max(1, _int(value) or default)


def _stream(value: Any, default: Any) -> bool:
    return not _flag(value)


def _switch(value: Any, default: Any) -> bool:
    return _flag(value)


def _thresholds(value: Any, default: Any) -> tuple[Threshold, ...]:
    return tuple(parse_threshold(t) for t in value or ())


def _slo(value: Any, default: Any) -> SLO | None:
    return SLO.of(*value) if value else None


def _names(value: Any, default: Any) -> tuple[str, ...]:
    return tuple(value or ())


def _port(value: Any, default: int) -> int:
    return max(0, _int(value) or default)


def _headers(value: Any, default: Any) -> tuple[tuple[str, str], ...]:
    """Repeated `--header 'Name: value'` (or web-form lines) as (name, value) pairs."""
    texts = value.splitlines() if isinstance(value, str) else value or ()
    return tuple(parse_header(text) for text in texts if text.strip())


def _warmup(value: Any, default: Any) -> tuple[float, int]:
    return parse_warmup(str(value or ""))


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Option:
    """One option. `field`: its `Settings` attribute ("" = the argparse dest); `read` turns
    the parsed value into it (None: resolved elsewhere); `public`: its key in the summary's
    settings (None: not shown) with the value `shown`; the rest goes to `add_argument`."""

    flag: str
    default: Any
    help: str
    field: str = ""
    read: Reader | None = _text
    public: str | None = None
    shown: Callable[[Any], Any] = _same
    kind: type[int] | type[float] | None = None  # argparse type
    action: str | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    nargs: str | None = None
    const: Any = None
    secret: bool = False  # masked in the web UI form, never shown
    web: bool = True  # in the web UI start form

    @property
    def dest(self) -> str:
        """The argparse dest (`--max-tokens` -> `max_tokens`)."""
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def env_var(self) -> str:
        """`LLM_LOAD_MAX_TOKENS` for `--max-tokens`."""
        return "LLM_LOAD_" + self.dest.upper()

    @property
    def attribute(self) -> str:
        """The `Settings` attribute holding this option's value."""
        return self.field or self.dest

    def value(self, options: Any) -> Any:
        """This option's `Settings` value from Locust's parsed options (or web-form text)."""
        assert self.read is not None, f"{self.flag} is resolved elsewhere"
        return self.read(getattr(options, self.dest, None), self.default)

    def add_to(self, parser: Any) -> None:
        """Register on Locust's `LocustArgumentParser`."""
        extra: dict[str, Any] = {
            name: value
            for name, value in (
                ("type", self.kind),
                ("action", self.action),
                ("choices", self.choices),
                ("metavar", self.metavar),
                ("nargs", self.nargs),
                ("const", self.const),
            )
            if value is not None
        }
        if self.secret:
            extra["is_secret"] = True
        if not self.web:
            extra["include_in_web_ui"] = False
        parser.add_argument(
            self.flag, env_var=self.env_var, default=self.default, help=self.help, **extra
        )


def _key_shown(key: str) -> str:
    return redact(key) if key else "(none)"


OPTIONS: tuple[Option, ...] = (
    Option(
        "--model",
        "",
        "Model id to request (default: the first id served by GET /v1/models)",
        public="model",
    ),
    Option(
        "--api-key",
        "",
        "API key sent as 'Authorization: Bearer KEY' (falls back to OPENAI_API_KEY)",
        read=None,  # with OPENAI_API_KEY and the start-up key: Settings.from_options
        public="api_key",
        shown=_key_shown,
        secret=True,
    ),
    Option(
        "--header",
        None,
        "Extra HTTP header sent on every request, repeatable: 'Name: value'. Values of "
        "Authorization, Cookie, *-Key and *-Token headers are secrets (never shown)",
        field="headers",
        read=_headers,
        public="headers",
        shown=shown_headers,
        action="append",
        metavar="'NAME: VALUE'",
        web=False,
    ),
    Option(
        "--max-tokens",
        128,
        "max_tokens per request (output length cap)",
        read=_max_tokens,
        public="max_tokens",
        kind=int,
    ),
    Option(
        "--prompt",
        DEFAULT_PROMPT,
        "User prompt sent by the chat user",
        public="prompt_chars",
        shown=len,
    ),
    Option(
        "--tokenizer",
        "",
        "How synthetic prompts are sized to exact token counts: server (the target's "
        "/tokenize), PATH (a local tokenizer.json, needs llm-load[tokenizers]), usage (probe "
        "requests' usage.prompt_tokens) or estimate (~4 chars/token). Default: the "
        "scenario's tokenizer:, else server, else usage, else estimate. server or PATH also "
        "counts a dataset's entries for its length filters (once each, at start)",
        public="tokenizer",
        metavar="server|PATH|usage|estimate",
    ),
    Option(
        "--exact-output",
        False,
        "Ask for exactly max_tokens output tokens (ignore_eos and min_tokens: vLLM, "
        "llama.cpp, SGLang; OpenAI itself rejects them)",
        read=_switch,
        public="exact_output",
        action="store_true",
    ),
    Option(
        "--warmup",
        "",
        "Warm-up left out of the summary's totals and distributions (kept in the time "
        "series): '30s' / '2m' from the start, or '20' requests (per worker process)",
        read=_warmup,
        public="warmup",
        shown=lambda w: {"duration_s": w[0], "requests": w[1]} if any(w) else None,
        metavar="S|N",
    ),
    Option(
        "--temperature",
        None,
        "Sampling temperature (default: not sent, the server's default)",
        read=_float,
        public="temperature",
        kind=float,
    ),
    Option(
        "--no-stream",
        False,
        "Send non-streaming requests (no TTFT/ITL then)",
        field="stream",
        read=_stream,
        public="stream",
        action="store_true",
    ),
    Option(
        "--api",
        "chat",
        "API to load: chat (/v1/chat/completions), responses (OpenAI Responses), messages "
        "(Anthropic Messages: x-api-key, ANTHROPIC_API_KEY as fallback), completions "
        "(legacy), embeddings (never streamed); a scenario model's api: wins for it",
        read=_text_or_default,
        public="api",
        choices=API_NAMES,
    ),
    Option(
        "--batch",
        1,
        "Inputs per embeddings request (--api embeddings): N distinct copies of the prompt",
        read=_turns,  # at least 1
        public="batch",
        kind=int,
        metavar="N",
    ),
    Option(
        "--request-timeout",
        60.0,
        "Seconds without any byte from the server before a request fails (stall timeout)",
        field="request_timeout_s",
        read=_float_or_default,
        public="request_timeout_s",
        kind=float,
    ),
    Option(
        "--ttft-timeout",
        0.0,
        "Seconds after sending by which a streamed request's first token must arrive, "
        "else it fails as ttft_timeout (0: off, the default)",
        field="ttft_timeout_s",
        read=_seconds_or_off,
        public="ttft_timeout_s",
        kind=float,
        metavar="S",
    ),
    Option(
        "--insecure",
        False,
        "Do not verify the server's TLS certificate (self-signed or private CA); "
        "verified by default",
        read=_switch,
        public="insecure",
        action="store_true",
    ),
    Option(
        "--llm-json",
        "",
        "Write the LLM run summary (summary.json schema) to this path when the test stops",
        web=False,
    ),
    Option(
        "--llm-requests",
        "",
        "Write every LLM call as one JSON line to this file (on the master in "
        "distributed runs; workers ship their rows with their reports)",
        metavar="PATH",
        web=False,
    ),
    Option(
        "--llm-html",
        "",
        "Write the self-contained HTML report (charts) to this path when the test stops",
        metavar="PATH",
        web=False,
    ),
    Option(
        "--tool-cases",
        "",
        "Tool-call dataset (JSONL) for locustfiles/tools.py "
        "(default: the shipped scenarios/data/tools_basic.jsonl)",
        metavar="PATH",
    ),
    Option(
        "--tool-turns",
        3,
        "Most requests of one tool task: after a tool call the results are sent back "
        "until a text answer or this many turns (1: no loop)",
        read=_turns,
        kind=int,
    ),
    Option(
        "--stream-reader",
        "reactor",
        "How streams are read: one epoll reactor per process with batched wake-ups "
        "(reactor, default) or each user's greenlet reading its own socket (greenlet)",
        read=_text_or_default,
        choices=("reactor", "greenlet"),
        web=False,
    ),
    Option(
        "--scenario",
        "",
        "YAML scenario run by locustfiles/scenario.py (model mix, prompts, load, "
        "thresholds); see docs/scenarios.md",
        read=None,  # loaded by resolve_settings
        public="scenario",
        shown=lambda scenario: scenario.name if scenario else None,
        metavar="PATH",
    ),
    Option(
        "--threshold",
        None,
        "Pass/fail check on the run summary, repeatable, e.g. 'ttft_ms.p99 < 500', "
        "'error_rate <= 0.01', 'itl_ms.p95@MODEL < 50'. Exit code 3 when one fails",
        field="thresholds",
        read=_thresholds,
        public="thresholds",
        shown=lambda thresholds: [t.text for t in thresholds],
        action="append",
        metavar="EXPR",
        web=False,
    ),
    Option(
        "--slo",
        None,
        "Per-request SLO limit in ms, repeatable: 'ttft_ms <= 500', 'itl_ms <= 50' (the "
        "request's mean ITL), 'tpot_ms <= 50', 'e2e_ms <= 10000', 'ttfo_ms <= 2000' (first "
        "answer token, after reasoning). Adds goodput (requests "
        "meeting every limit) to the summary; overrides the scenario's slo: per metric",
        read=_slo,
        public="slo",
        shown=lambda slo: slo.as_dict() if slo else None,
        action="append",
        metavar="EXPR",
        web=False,
    ),
    Option(
        "--server-metrics",
        "auto",
        "Scrape the server's Prometheus metrics during the run (one process: the master "
        "or the local runner): URL, or without a value {host}/metrics. Default 'auto': "
        "{host}/metrics when it answers; 'off' disables",
        read=_text_or_default,
        public="server_metrics",
        nargs="?",
        const="host",
        metavar="URL",
        web=False,
    ),
    Option(
        "--server-metrics-interval",
        1.0,
        "Seconds between two scrapes of --server-metrics (default 1)",
        field="server_metrics_interval_s",
        read=_float_or_default,
        kind=float,
        metavar="S",
        web=False,
    ),
    Option(
        "--server-metric",
        None,
        "Keep this server metric's raw samples (sum over labels), repeatable; all "
        "that is kept from a server whose family is not recognised",
        read=_names,
        action="append",
        metavar="NAME",
        web=False,
    ),
    Option(
        "--prometheus-port",
        0,
        "Serve the LLM metrics for Prometheus at http://HOST:PORT/metrics on the local runner "
        "or the master, headless runs included (0: off; the web UI serves /metrics anyway)",
        read=_port,  # used at init by llm_load.locust.prometheus (a server, like --web-port)
        kind=int,
        metavar="PORT",
        web=False,
    ),
    Option(
        "--prometheus-host",
        "127.0.0.1",
        "Address --prometheus-port binds to (0.0.0.0: every interface)",
        read=_text_or_default,
        metavar="HOST",
        web=False,
    ),
    Option(
        "--prometheus-linger",
        0.0,
        "Seconds --prometheus-port keeps serving after the final summary, so the last "
        "scrape sees the final numbers",
        field="prometheus_linger_s",
        read=_seconds_or_off,
        kind=float,
        metavar="S",
        web=False,
    ),
)


def add_arguments(parser: Any) -> None:
    """Add our options to Locust's `LocustArgumentParser`."""
    for option in OPTIONS:
        option.add_to(parser)


def parsed_defaults(**values: Any) -> argparse.Namespace:
    """Options as Locust would parse them with no flag given, `values` replacing some
    (for running our users with Locust as a library)."""
    return argparse.Namespace(**{**{o.dest: o.default for o in OPTIONS}, **values})
