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
from pathlib import Path
from typing import Annotated, Any

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
from llm_load.core.scenario.errors import ScenarioError, format_errors
from llm_load.core.scenario.load import Load, Stage
from llm_load.core.scenario.prompt_files import Message, read_prompt_file
from llm_load.core.tools.cases import ToolCase, load_tool_cases

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


class Target(BaseModel):
    """Defaults for the server: `host` (base URL) and the NAME of the API key's env var."""

    model_config = _STRICT
    host: str | None = None
    api_key_env: str | None = Field(default=None, pattern=_ENV_NAME)

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


class ModelSpec(BaseModel):
    """One model of the mix; `weight` is relative, overrides apply to its requests."""

    model_config = _STRICT
    name: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=0)
    max_tokens: PositiveInt | None = None
    temperature: float | None = Field(default=None, ge=0)
    extra: dict[str, Any] = Field(default_factory=dict)


class Normal(BaseModel):
    model_config = _STRICT
    mean: float = Field(gt=0)
    std: float = Field(ge=0)
    min: PositiveInt = 1
    max: PositiveInt

    @model_validator(mode="after")
    def _bounds(self) -> Normal:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must be <= max ({self.max})")
        return self


class Dist(BaseModel):
    """A length distribution in tokens: exactly one of `fixed`, `uniform`, `normal`."""

    model_config = _STRICT
    fixed: PositiveInt | None = None
    uniform: tuple[PositiveInt, PositiveInt] | None = None
    normal: Normal | None = None

    @model_validator(mode="after")
    def _one(self) -> Dist:
        given = [k for k in ("fixed", "uniform", "normal") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "expected exactly one of {fixed: N}, {uniform: [LO, HI]}, "
                f"{{normal: {{mean, std, min, max}}}} (got {given or 'none'})"
            )
        if self.uniform is not None and self.uniform[0] > self.uniform[1]:
            raise ValueError(f"uniform: [LO, HI] needs LO <= HI (got {list(self.uniform)})")
        return self


class Synthetic(BaseModel):
    """Generated prompts of `input_tokens` length asking for `output_tokens` (max_tokens)."""

    model_config = _STRICT
    input_tokens: Dist
    output_tokens: Dist | None = None
    seed: int | None = None


class Prompts(BaseModel):
    """Exactly one source: `inline` list, JSONL or CSV `file` or `synthetic`."""

    model_config = _STRICT
    inline: list[str | list[Message]] | None = Field(default=None, min_length=1)
    file: str | None = None
    synthetic: Synthetic | None = None

    @model_validator(mode="after")
    def _one(self) -> Prompts:
        given = [k for k in ("inline", "file", "synthetic") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"expected exactly one of inline, file, synthetic (got {given})")
        return self

    @property
    def kind(self) -> str:
        return "inline" if self.inline else "file" if self.file else "synthetic"


class MultiTurn(BaseModel):
    """Conversations of `turns` requests, each carrying the history so far."""

    model_config = _STRICT
    turns: PositiveInt


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
    target: Target = Field(default_factory=Target)
    models: list[ModelSpec] = Field(min_length=1)
    prompts: Prompts | None = None
    tools: Tools | None = None
    multi_turn: MultiTurn | None = None
    load: Load = Field(default_factory=Load)
    thresholds: list[Annotated[str, AfterValidator(_check_threshold)]] = Field(default_factory=list)
    slo: SLOLimits | None = None  # per-request limits in ms defining goodput
    capacity: CapacitySpec | None = None  # the capacity search (llm-load capacity)
    _conversations: list[list[dict[str, str]]] = PrivateAttr(default_factory=list)
    _tool_cases: list[ToolCase] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _prompts_needed(self) -> Scenario:
        if self.prompts is None and (self.tools is None or self.tools.share < 1.0):
            raise ValueError("prompts: required unless tools.share is 1 (only tool tasks)")
        if self.capacity and self.capacity.mode == "rate" and not self.load.rate:
            raise ValueError(
                "capacity.mode rate needs an open-loop load: set load.rate (any value: the "
                "search sets the rate step by step) and load.users (the most requests in flight)"
            )
        return self

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
        """The prompts of `inline` or `file` as message lists (empty for synthetic)."""
        if not self._conversations and self.prompts is not None and self.prompts.inline:
            self._conversations = [_as_messages(p) for p in self.prompts.inline]
        return self._conversations

    def parsed_thresholds(self) -> tuple[Threshold, ...]:
        return tuple(parse_threshold(t) for t in self.thresholds)

    def summary(self) -> str:
        """One line: models, prompt source and the load mode, for `llm-load validate`."""
        load = self.load
        turns = f", {self.multi_turn.turns} turns" if self.multi_turn else ""
        prompts = f"{self.prompts.kind} prompts" if self.prompts else "no prompts"
        if self.conversations:
            prompts += f" ({len(self.conversations)})"
        if self.tools:
            prompts += f", {len(self._tool_cases)} tool cases ({self.tools.share:.0%})"
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
    if scenario.tools is not None:
        scenario._tool_cases = _read_tool_cases(path, scenario.tools.cases)
    return scenario


def _read_tool_cases(scenario_path: Path, file: str) -> list[ToolCase]:
    try:
        return load_tool_cases((scenario_path.parent / file).resolve())
    except ScenarioError as error:
        raise ScenarioError(f"{scenario_path}: tools.cases: {error}") from None


def _yaml_message(name: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    return f"{name}{where}: invalid YAML: {problem}"


def _as_messages(prompt: str | list[Message]) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [m.model_dump() for m in prompt]
