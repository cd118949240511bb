"""Scenario parts that shape the workload: length distributions, output lengths, shared
prefixes, datasets, traces and the warm-up window (see docs/workloads.md). Pydantic
models, unknown keys rejected; `core.scenario.schema` puts them into a `Scenario`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Dataset", "Dist", "Normal", "Output", "Prefix", "Trace", "Warmup"]

_STRICT = ConfigDict(extra="forbid")
PositiveInt = Annotated[int, Field(ge=1)]


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


class Output(BaseModel):
    """Output lengths: `tokens` (a distribution; each draw is the request's max_tokens) and
    `exact` (ask the server to generate all of them: ignore_eos and min_tokens)."""

    model_config = _STRICT
    tokens: Dist | None = None
    exact: bool = False


class Prefix(BaseModel):
    """Shared prefixes: `groups` prompts of `tokens` shared tokens each (a system prompt or a
    document), each request then its unique synthetic part; a group is drawn per request by
    `weights` (default: equal)."""

    model_config = _STRICT
    groups: PositiveInt = 1
    tokens: PositiveInt
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Prefix:
        if self.weights is not None and len(self.weights) != self.groups:
            raise ValueError(f"weights: one per group ({self.groups}), got {len(self.weights)}")
        if self.weights is not None and sum(self.weights) <= 0:
            raise ValueError("weights sum to 0")
        return self


class Dataset(BaseModel):
    """A conversation dataset (`core.scenario.datasets`): ShareGPT JSON or OpenAI-messages
    JSONL, filtered by estimated lengths (real ones with a tokenizer: at most `count_limit`
    entries counted), then `sample` of them drawn with `seed`."""

    model_config = _STRICT
    file: str = Field(min_length=1)
    format: Literal["auto", "sharegpt", "messages"] = "auto"
    sample: PositiveInt | None = None
    seed: int = 0
    min_input_tokens: PositiveInt | None = None
    max_input_tokens: PositiveInt | None = None
    min_output_tokens: PositiveInt | None = None
    max_output_tokens: PositiveInt | None = None
    count_limit: PositiveInt = 1000  # the most entries a tokenizer counts (per process)


class Trace(BaseModel):
    """A timestamped trace replayed open-loop (`core.scenario.trace`): each request at its
    `timestamp × time_scale`, with its lengths (token-exact with a tokenizer) and its
    `hash_ids` as shared blocks of `block_tokens` tokens."""

    model_config = _STRICT
    file: str = Field(min_length=1)
    time_scale: float = Field(default=1.0, gt=0)
    block_tokens: PositiveInt = 512


class Warmup(BaseModel):
    """Left out of the summary's totals and distributions: the first `duration_s` seconds
    or the first `requests` requests (per worker process)."""

    model_config = _STRICT
    duration_s: float | None = Field(default=None, gt=0)
    requests: PositiveInt | None = None

    @model_validator(mode="after")
    def _one(self) -> Warmup:
        if (self.duration_s is None) == (self.requests is None):
            raise ValueError("expected exactly one of duration_s, requests")
        return self
