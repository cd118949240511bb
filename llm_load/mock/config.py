"""Configuration of the mock server: served models and timing knobs (frozen dataclasses)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "mock-llm"
SLOW_MODEL = "mock-llm-slow"
# Ways a tool-case answer can be made wrong (``--tool-error-kinds``), named like the grades.
TOOL_ERROR_KINDS = (
    "unknown_function", "wrong_function", "invalid_json", "missing_arg", "unexpected_arg",
    "wrong_type", "wrong_value", "extra_call", "no_call", "call_when_irrelevant",
)  # fmt: skip
DEFAULT_TOOL_ERROR_KINDS = (
    "unknown_function", "wrong_function", "invalid_json", "missing_arg", "wrong_type", "no_call",
    "call_when_irrelevant",
)  # fmt: skip
TOOL_STREAM_STYLES = ("vllm", "llamacpp")
# Without --tokens a reply runs to the request's max_tokens / max_completion_tokens, at most
# MAX_REPLY_TOKENS (finish_reason "length"), or DEFAULT_REPLY_TOKENS when it sets neither.
MAX_REPLY_TOKENS = 4096
DEFAULT_REPLY_TOKENS = 64
_MODEL_SPEC = re.compile(r"^(?P<name>[^=\s]+)=(?P<ttft>[0-9.]+)/(?P<itl>[0-9.]+)$")


@dataclass(frozen=True, slots=True)
class MockModel:
    """One served model id and its latency profile in milliseconds."""

    name: str
    ttft_ms: float
    itl_ms: float

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("model name must not be empty")
        if self.ttft_ms < 0 or self.itl_ms < 0:
            raise ValueError(f"model {self.name!r}: latencies must be >= 0")

    @classmethod
    def parse(cls, spec: str) -> MockModel:
        """Parse ``NAME=TTFT_MS/ITL_MS`` (e.g. ``fast=20/2.5``)."""
        match = _MODEL_SPEC.match(spec.strip())
        if match is None:
            raise ValueError(f"invalid model spec {spec!r}: expected NAME=TTFT_MS/ITL_MS")
        try:
            ttft, itl = float(match["ttft"]), float(match["itl"])
        except ValueError:
            raise ValueError(f"invalid numbers in model spec {spec!r}") from None
        return cls(match["name"], ttft, itl)


def default_models(ttft_ms: float, itl_ms: float) -> tuple[MockModel, ...]:
    """The models served when none are given: ``mock-llm`` and a 2x slower ``mock-llm-slow``."""
    return (
        MockModel(DEFAULT_MODEL, ttft_ms, itl_ms),
        MockModel(SLOW_MODEL, ttft_ms * 2, itl_ms * 2),
    )


@dataclass(frozen=True, slots=True)
class MockConfig:
    """Everything the mock server needs; ``models[0]`` is used when a request names none."""

    host: str = "127.0.0.1"
    port: int = 8000
    models: tuple[MockModel, ...] = field(default_factory=lambda: default_models(50.0, 5.0))
    tokens: int | None = None  # the model stops by itself after N tokens; None: see above
    jitter: float = 0.0
    seed: int = 0
    api_key: str | None = field(default=None, repr=False)
    use_uvloop: bool = True
    backlog: int = 4096
    max_records: int = 200_000
    max_model_len: int = 8192
    root_path: str = ""  # OpenAI routes live under ROOT_PATH + "/v1"
    block_prompt: str | None = None  # a chat mentioning this word gets a 403 content filter
    backend: str | None = None  # a `backend` object (machine NAME) in every chat response
    usage: bool = True  # False: never report usage
    prompt_tokens_details: bool = False  # a prefix cache and usage's cached_tokens
    reasoning_tokens: int = 0  # reasoning tokens before each chat answer
    tools: bool = True  # False: requests with tools get vLLM's 400
    tool_cases: tuple[Any, ...] = field(default=(), repr=False)  # ToolCase objects it answers
    tool_error_rate: float = 0.0  # share of tool-case answers made wrong on purpose
    tool_error_kinds: tuple[str, ...] = DEFAULT_TOOL_ERROR_KINDS
    tool_stream: str = "vllm"  # how streamed tool calls are split: vllm or llamacpp
    parallel: int = 0  # at most this many replies generate at once (0: unlimited)
    error_rate: float = 0.0  # share of valid chat requests answered with error_status
    error_status: int = 503
    drop_rate: float = 0.0  # share whose connection closes mid-reply
    stall_rate: float = 0.0  # share that stop for stall_s seconds mid-reply
    stall_s: float = 10.0
    stream_error_rate: float = 0.0  # share of streams ended by an in-stream error event

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("at least one model is required")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate model names: {names}")
        if self.tokens is not None and self.tokens < 1:
            raise ValueError("tokens must be >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be within [0, 65535]")
        if self.root_path and (not self.root_path.startswith("/") or self.root_path.endswith("/")):
            raise ValueError(f"root path must look like /prefix, got {self.root_path!r}")
        if self.block_prompt == "":
            raise ValueError("the blocked word must not be empty")
        if self.parallel < 0:
            raise ValueError("parallel must be >= 0")
        self._check_tools()
        self._check_faults()

    def _check_faults(self) -> None:
        rates = {"error": self.error_rate, "drop": self.drop_rate, "stall": self.stall_rate,
                 "stream error": self.stream_error_rate}  # fmt: skip
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} rate must be within [0, 1], got {rate:g}")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("error, drop and stall rates must add up to at most 1")
        if not 400 <= self.error_status <= 599:
            raise ValueError(f"error status must be a 4xx or 5xx code, got {self.error_status}")
        if self.stall_s < 0:
            raise ValueError("stall seconds must be >= 0")

    def _check_tools(self) -> None:
        if not 0.0 <= self.tool_error_rate <= 1.0:
            raise ValueError("tool error rate must be within [0, 1]")
        unknown = sorted(set(self.tool_error_kinds) - set(TOOL_ERROR_KINDS))
        if unknown or not self.tool_error_kinds:
            raise ValueError(
                f"tool error kinds: expected some of {', '.join(TOOL_ERROR_KINDS)} (got {unknown})"
            )
        if self.tool_stream not in TOOL_STREAM_STYLES:
            raise ValueError(f"tool stream style must be one of {', '.join(TOOL_STREAM_STYLES)}")

    def model(self, name: str | None) -> MockModel | None:
        """Look a model up by id; ``None`` selects the first model."""
        if name is None:
            return self.models[0]
        for model in self.models:
            if model.name == name:
                return model
        return None
