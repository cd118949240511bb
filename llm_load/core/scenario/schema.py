"""The YAML scenario schema: target, model mix, prompts, tools, multi-turn, load, thresholds.

Pydantic models with unknown keys rejected everywhere. `load_scenario(path)` reads the YAML
(and a JSONL or CSV prompt file, relative to the scenario file: `core.scenario.prompt_files`)
and raises `ScenarioError`, whose message lists every problem as
`FILE: key.path[0].sub: what was expected (got ...)`; malformed YAML gives its line and column.
Times are seconds, lengths are tokens. The scenario never holds an API key:
`target.api_key_env` names the environment variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from llm_load.core.capacity.spec import CapacitySpec
from llm_load.core.metrics.slo import SLOLimits
from llm_load.core.metrics.thresholds import Threshold, ThresholdError, parse_threshold
from llm_load.core.scenario.datasets import Dialogue, read_dataset
from llm_load.core.scenario.errors import ScenarioError, format_errors
from llm_load.core.scenario.load import Load, Stage
from llm_load.core.scenario.prompt_files import Message, read_prompt_file
from llm_load.core.scenario.trace import TraceEntry, read_trace
from llm_load.core.scenario.workload import Dataset, Dist, Output, Prefix, Trace, Warmup
from llm_load.core.tools.cases import ToolCase, load_tool_cases
from llm_load.core.wire.endpoint import HeaderError, is_secret_header, parse_header

__all__ = [
    "Dist",
    "Load",
    "ModelSpec",
    "Scenario",
    "ScenarioError",
    "Stage",
    "Tools",
    "load_scenario",
]

_STRICT = ConfigDict(extra="forbid")
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
PositiveInt = Annotated[int, Field(ge=1)]


def _check_threshold(text: str) -> str:
    try:
        parse_threshold(text)
    except ThresholdError as error:
        raise ValueError(str(error)) from None
    return text


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TargetDefaults(BaseModel):
    """Defaults for the server: `host` (base URL), the NAME of the API key's env var and
    `headers` sent on every request (`${NAME}` in a value reads an env var; secret headers
    such as Authorization must take their value from one)."""

    model_config = _STRICT
    host: str | None = None
    api_key_env: str | None = Field(default=None, pattern=_ENV_NAME)
    metrics: str | None = None  # --server-metrics: a /metrics URL, "host" or "off"
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers", mode="after")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            try:
                parse_header(f"{name}: {value}")
            except HeaderError as error:
                raise ValueError(str(error).replace("--header", "header")) from None
            if is_secret_header(name) and not _ENV_REF.search(value):
                raise ValueError(
                    f"{name!r}: never put a secret in a scenario file; write its value as "
                    f"'${{NAME}}' to read it from the environment variable NAME"
                )
        return headers

    def expanded_headers(self, environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The headers with every `${NAME}` replaced by that env var (`ScenarioError` when
        one is unset)."""

        def value(match: re.Match[str]) -> str:
            if match.group(1) not in environ:
                raise ScenarioError(f"target.headers: environment variable {match.group(1)} unset")
            return environ[match.group(1)]

        return tuple((name, _ENV_REF.sub(value, text)) for name, text in self.headers.items())

    @model_validator(mode="before")
    @classmethod
    def _no_key_literal(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key != "api_key_env" and re.search(r"key|token|secret", str(key), re.I):
                    raise ValueError(
                        f"{key!r}: never put an API key in a scenario file; set "
                        "'api_key_env: NAME' to read it from the environment variable NAME"
                    )
        return data


# The rows of llm_load.core.wire.protocols.PROTOCOLS (a unit test keeps them equal).
Api = Literal["chat", "responses", "messages", "completions", "embeddings"]


class ModelSpec(BaseModel):
    """One model of the mix; `weight` is relative, overrides apply to its requests."""

    model_config = _STRICT
    name: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=0)
    max_tokens: PositiveInt | None = None
    temperature: float | None = Field(default=None, ge=0)
    extra: dict[str, Any] = Field(default_factory=dict)
    api: Api | None = None  # the API it is sent with (default: --api, chat)


class Synthetic(BaseModel):
    """Generated prompts of `input_tokens` length asking for `output_tokens` (max_tokens)."""

    model_config = _STRICT
    input_tokens: Dist
    output_tokens: Dist | None = None
    seed: int | None = None


class Prompts(BaseModel):
    """Exactly one source: `inline` list, JSONL or CSV `file`, `dataset` or `synthetic`."""

    model_config = _STRICT
    inline: list[str | list[Message]] | None = Field(default=None, min_length=1)
    file: str | None = None
    dataset: Dataset | None = None
    synthetic: Synthetic | None = None

    @model_validator(mode="after")
    def _one(self) -> Prompts:
        kinds = ("inline", "file", "dataset", "synthetic")
        given = [k for k in kinds if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"expected exactly one of {', '.join(kinds)} (got {given})")
        return self

    @property
    def kind(self) -> str:
        kinds = ("inline", "file", "dataset")
        return next((k for k in kinds if getattr(self, k) is not None), "synthetic")


class MultiTurn(BaseModel):
    """Conversations that grow: each request resends the whole history so far (system
    messages, every user turn, every assistant reply) plus a new user turn; after `turns`
    requests a new conversation starts. With `prompts.dataset` the later user turns are the
    conversation's own (at most `turns` of them; omitted: all), and `replies` says whose
    assistant messages make the history: the model's own streamed replies (`model`) or the
    dataset's recorded ones (`dataset`)."""

    model_config = _STRICT
    turns: PositiveInt | None = None
    replies: Literal["model", "dataset"] = "model"


class Tools(BaseModel):
    """Tool-call tasks from a JSONL dataset (path relative to the scenario file): `share` of
    the requests (0..1, the rest use `prompts`), up to `turns` requests per task."""

    model_config = _STRICT
    cases: str = Field(min_length=1)
    turns: PositiveInt = 3
    share: float = Field(default=1.0, ge=0.0, le=1.0)


class Scenario(BaseModel):
    """A load test described in YAML; see docs/scenarios.md."""

    model_config = _STRICT
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    target: TargetDefaults = Field(default_factory=TargetDefaults)
    models: list[ModelSpec] = Field(min_length=1)
    prompts: Prompts | None = None
    tools: Tools | None = None
    multi_turn: MultiTurn | None = None
    tokenizer: str | None = Field(default=None, min_length=1)  # server | PATH | usage | estimate
    output: Output | None = None
    prefix: Prefix | None = None
    warmup: Warmup | None = None
    trace: Trace | None = None
    load: Load = Field(default_factory=Load)
    thresholds: list[Annotated[str, AfterValidator(_check_threshold)]] = Field(default_factory=list)
    slo: SLOLimits | None = None  # per-request limits in ms defining goodput
    capacity: CapacitySpec | None = None  # the capacity search (llm-load capacity)
    _conversations: list[list[dict[str, str]]] = PrivateAttr(default_factory=list)
    _dialogues: list[Dialogue] = PrivateAttr(default_factory=list)
    _all_dialogues: list[Dialogue] = PrivateAttr(default_factory=list)
    _tool_cases: list[ToolCase] = PrivateAttr(default_factory=list)
    _trace: list[TraceEntry] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _prompts_needed(self) -> Scenario:
        if self.trace is not None:
            if self.prompts is not None or self.tools is not None or self.load.open_loop:
                raise ValueError("trace: replaces prompts, tools and load.rate (give load.users)")
            return self
        if self.prompts is None and (self.tools is None or self.tools.share < 1.0):
            raise ValueError("prompts: required unless tools.share is 1 (only tool tasks)")
        if self.capacity and self.capacity.mode == "rate" and not self.load.rate:
            raise ValueError(
                "capacity.mode rate needs an open-loop load: set load.rate (any value: the "
                "search sets the rate step by step) and load.users (the most requests in flight)"
            )
        return self

    @property
    def trace_entries(self) -> list[TraceEntry]:
        """The requests of `trace.file` (read by `load_scenario`)."""
        return self._trace

    @model_validator(mode="after")
    def _one_output_length(self) -> Scenario:
        synthetic = self.prompts.synthetic if self.prompts is not None else None
        given = synthetic is not None and synthetic.output_tokens is not None
        if given and self.output is not None and self.output.tokens is not None:
            raise ValueError("output lengths twice: output.tokens and synthetic.output_tokens")
        return self

    @model_validator(mode="after")
    def _multi_turn_source(self) -> Scenario:
        multi = self.multi_turn
        dataset = self.prompts is not None and self.prompts.dataset is not None
        if multi is None or dataset:
            return self
        if multi.replies == "dataset":
            raise ValueError(
                "multi_turn.replies: dataset needs prompts.dataset (its recorded replies); "
                "other prompts take the model's own replies (replies: model)"
            )
        if multi.turns is None:
            raise ValueError(
                "multi_turn.turns: required (requests per conversation) unless prompts.dataset "
                "gives each conversation its own turns"
            )
        return self

    @model_validator(mode="after")
    def _prefix_needs_synthetic(self) -> Scenario:
        if self.prefix is not None and (self.prompts is None or self.prompts.synthetic is None):
            raise ValueError("prefix: needs prompts.synthetic (the unique part of each prompt)")
        return self

    def warmup_window(self) -> tuple[float, int]:
        """(seconds, requests) of `warmup:`; (0, 0) without one."""
        w = self.warmup
        return (0.0, 0) if w is None else (w.duration_s or 0.0, w.requests or 0)

    @property
    def exact_output(self) -> bool:
        return self.output is not None and self.output.exact

    def model_spec(self, name: str) -> ModelSpec | None:
        """The mix's entry for model `name`, if any."""
        return next((m for m in self.models if m.name == name), None)

    @field_validator("models", mode="after")
    @classmethod
    def _mix(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise ValueError(f"each model name once (got {names})")
        if sum(m.weight for m in models) <= 0:
            raise ValueError("weights sum to 0: at least one model needs weight > 0")
        return models

    @property
    def tool_cases(self) -> list[ToolCase]:
        """The cases of `tools.cases` (read by `load_scenario`)."""
        return self._tool_cases

    @property
    def conversations(self) -> list[list[dict[str, str]]]:
        """The prompts of `inline`, `file` or `dataset` (its conversations' first turns) as
        message lists (empty for synthetic)."""
        if not self._conversations and self.prompts is not None and self.prompts.inline:
            self._conversations = [_as_messages(p) for p in self.prompts.inline]
        if not self._conversations and self._dialogues:
            self._conversations = [d.opening() for d in self._dialogues]
        return self._conversations

    @property
    def dialogues(self) -> list[Dialogue]:
        """The conversations of `prompts.dataset`, every turn (read by `load_scenario`)."""
        return self._dialogues

    @property
    def dataset_examples(self) -> list[Dialogue]:
        """Every conversation of `prompts.dataset` before its filters (for real counts)."""
        return self._all_dialogues

    def parsed_thresholds(self) -> tuple[Threshold, ...]:
        return tuple(parse_threshold(t) for t in self.thresholds)

    def summary(self) -> str:
        """One line: models, prompt source and the load mode, for `llm-load validate`."""
        load = self.load
        turns = _turns(self.multi_turn)
        prompts = f"{self.prompts.kind} prompts" if self.prompts else "no prompts"
        if self.trace is not None:
            prompts = f"trace of {len(self._trace)} requests (x{self.trace.time_scale:g} time)"
        if self.conversations:
            prompts += f" ({len(self.conversations)})"
        if self.tools:
            prompts += f", {len(self._tool_cases)} tool cases ({self.tools.share:.0%})"
        if self.prefix:
            prompts += f", {self.prefix.groups} shared prefixes of {self.prefix.tokens} tokens"
        if self.tokenizer:
            prompts += f", tokenizer {self.tokenizer}"
        if self.exact_output:
            prompts += ", exact output lengths"
        models = f"{len(self.models)} model{'s' if len(self.models) > 1 else ''}"
        run_time = load.run_time or (f"{load.stages_s:g}s" if load.stages else "unbounded")
        return f"{models}, {prompts}{turns}, {load.describe()}, run time {run_time}"


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; `ScenarioError` lists every problem."""
    path = Path(path)
    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{name}: cannot read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ScenarioError(_yaml_message(name, error)) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{name}: expected a mapping of keys (got {type(data).__name__})")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(format_errors(name, error, Scenario)) from None
    if scenario.prompts is not None and scenario.prompts.file is not None:
        scenario._conversations = read_prompt_file(path, scenario.prompts.file)
    if scenario.prompts is not None and scenario.prompts.dataset is not None:
        scenario._all_dialogues, scenario._dialogues = read_dataset(path, scenario.prompts.dataset)
    if scenario.tools is not None:
        scenario._tool_cases = _read_tool_cases(path, scenario.tools.cases)
    if scenario.trace is not None:
        scenario._trace = read_trace(path, scenario.trace.file)
    return scenario


def _read_tool_cases(scenario_path: Path, file: str) -> list[ToolCase]:
    try:
        return load_tool_cases((scenario_path.parent / file).resolve())
    except ScenarioError as error:
        raise ScenarioError(f"{scenario_path}: tools.cases: {error}") from None


def _turns(multi: MultiTurn | None) -> str:
    """`validate`'s words for `multi_turn:`."""
    if multi is None:
        return ""
    turns = f"{multi.turns} turns" if multi.turns else "every dataset turn"
    return f", conversations of {turns} ({multi.replies} replies)"


def _yaml_message(name: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    return f"{name}{where}: invalid YAML: {problem}"


def _as_messages(prompt: str | list[Message]) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [m.model_dump() for m in prompt]
