"""`llm-load compare` settings: the config file, and one precedence for every value.

Each value comes from the first source that sets it: the command-line flag, then its
environment variables (in order), then the config file (JSON, or YAML by extension; the
seed tester's `api.endpoint`, `api.token` and `defaults.*`), then the built-in default.
`./config.json` is read when present and no `--config-file` is given. Pure: the caller
passes the flags, the environment and the working directory; `resolve_config` returns a
frozen `CompareConfig` that records where each value came from, or raises `ConfigError`
with a message naming the flag, variable or file key at fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from llm_load.core.scenario.errors import format_errors
from llm_load.core.wire.endpoint import KEY_ENV, ApiKey, redact
from llm_load.core.wire.protocols import API_NAMES

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_PROMPT",
    "FIELDS",
    "CompareConfig",
    "ConfigError",
    "FieldSpec",
    "load_config_file",
    "parse_models",
    "resolve_config",
]

DEFAULT_CONFIG_FILE = "config.json"
DEFAULT_PROMPT = "Write one word of more than 10 letters, picked at random, nothing else."
_STRICT = ConfigDict(extra="forbid")


class ConfigError(ValueError):
    """Settings that cannot be used (exit code 2); the message says which and why."""


def parse_models(value: Any) -> tuple[str, ...]:
    """`"a, b,,a"` or `["a", "b"]` -> `("a", "b")`: stripped, no blanks, no repeats."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("expected a comma-separated string or a list of model ids")
    return tuple(dict.fromkeys(str(m).strip() for m in items if str(m).strip()))


def _positive_int(text: Any) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be an integer >= 1 (got {text!r})")
    return value


def _positive_float(text: Any) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"must be a number > 0 (got {text!r})")
    return value


def _temperature(text: Any) -> float:
    value = float(text)
    if not 0 <= value <= 2:
        raise ValueError(f"must be within [0, 2] (got {text!r})")
    return value


def _flag(text: Any) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false (got {text!r})")


# -- the config file ---------------------------------------------------------------------
Models = Annotated[tuple[str, ...], BeforeValidator(parse_models)]


class ApiSection(BaseModel):
    """`api`: where to send requests and the bearer token (as in the seed tester)."""

    model_config = _STRICT
    endpoint: str | None = Field(default=None, min_length=1)
    token: str | None = None


class DefaultsSection(BaseModel):
    """`defaults`: the seed's four values, plus llm-load's own."""

    model_config = _STRICT
    passes: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    prompt: str | None = Field(default=None, min_length=1)
    models: Models | None = None
    parallel_models: int | None = Field(default=None, ge=1)
    parallel_requests: int | None = Field(default=None, ge=1)


class ConfigFile(BaseModel):
    """The whole config file; unknown keys are errors (a typo must not be ignored)."""

    model_config = _STRICT
    api: ApiSection = Field(default_factory=ApiSection)
    defaults: DefaultsSection = Field(default_factory=DefaultsSection)


def load_config_file(path: str | Path) -> ConfigFile:
    """Read and validate a config file (YAML for `.yaml`/`.yml`, else JSON)."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        message = f"{name}: cannot read the config file: {error.strerror or error}"
        raise ConfigError(message) from None
    yaml_file = path.suffix.lower() in (".yaml", ".yml")
    try:
        data = yaml.safe_load(text) if yaml_file else json.loads(text)
    except json.JSONDecodeError as error:
        where = f"{name}:{error.lineno}:{error.colno}"
        raise ConfigError(f"{where}: invalid JSON: {error.msg}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or error
        raise ConfigError(f"{name}{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected an object with 'api' and 'defaults' keys")
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_errors(name, error, ConfigFile)) from None


def _api(value: Any) -> str:
    if value not in API_NAMES:
        raise ValueError(f"expected one of {', '.join(API_NAMES)}")
    return str(value)


# -- precedence ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One setting: its flag (argparse dest), env variables, config-file key and default."""

    name: str
    flag: str
    env: tuple[str, ...]
    key: tuple[str, str] | None
    default: Any
    parse: Callable[[Any], Any]


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("endpoint", "--endpoint", ("LLM_LOAD_HOST", "OPENAI_BASE_URL"),
              ("api", "endpoint"), None, str),
    FieldSpec("api_key", "--api-key", KEY_ENV, ("api", "token"), None, str),
    FieldSpec("models", "--models", ("LLM_LOAD_MODELS",), ("defaults", "models"), (),
              parse_models),
    FieldSpec("prompt", "--prompt", ("LLM_LOAD_PROMPT",), ("defaults", "prompt"),
              DEFAULT_PROMPT, str),
    FieldSpec("passes", "--passes", ("LLM_LOAD_PASSES",), ("defaults", "passes"), 1,
              _positive_int),
    FieldSpec("temperature", "--temperature", ("LLM_LOAD_TEMPERATURE",),
              ("defaults", "temperature"), 0.7, _temperature),
    FieldSpec("max_tokens", "--max-tokens", ("LLM_LOAD_MAX_TOKENS",),
              ("defaults", "max_tokens"), 1024, _positive_int),
    FieldSpec("timeout_s", "--timeout", ("LLM_LOAD_REQUEST_TIMEOUT",), ("defaults", "timeout"),
              30.0, _positive_float),
    FieldSpec("parallel_models", "--parallel-models", ("LLM_LOAD_PARALLEL_MODELS",),
              ("defaults", "parallel_models"), 1, _positive_int),
    FieldSpec("parallel_requests", "--parallel-requests", ("LLM_LOAD_PARALLEL_REQUESTS",),
              ("defaults", "parallel_requests"), 1, _positive_int),
    FieldSpec("no_stream", "--no-stream", ("LLM_LOAD_NO_STREAM",), None, False, _flag),
    FieldSpec("api", "--api", ("LLM_LOAD_API",), None, "chat", _api),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CompareConfig:
    """Everything one compare run needs; `sources` says where each value came from."""

    endpoint: str
    api_key: str | None = field(repr=False)
    models: tuple[str, ...]
    prompt: str
    passes: int
    temperature: float
    max_tokens: int
    timeout_s: float
    parallel_models: int
    parallel_requests: int
    no_stream: bool
    api: str = "chat"  # the API every model is asked with (docs/apis.md)
    debug: bool = False
    llm_json: str = ""
    config_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def stream(self) -> bool:
        return not self.no_stream

    @property
    def key_shown(self) -> str:
        """The key as `sk-…abcd` with its source, or `no API key`."""
        if self.api_key is None:
            return "no API key"
        return f"API key {redact(self.api_key)} from {self.sources['api_key']}"

    def public(self) -> dict[str, Any]:
        """The settings for summary.json and logs (the key redacted)."""
        return {
            "command": "compare",
            "host": self.endpoint,
            "models": list(self.models),
            "api_key": redact(self.api_key) if self.api_key else "(none)",
            "api_key_source": self.sources.get("api_key", "none"),
            "prompt_chars": len(self.prompt),
            "passes": self.passes,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "request_timeout_s": self.timeout_s,
            "parallel_models": self.parallel_models,
            "parallel_requests": self.parallel_requests,
            "stream": self.stream,
            "api": self.api,
            "config_file": self.config_file,
        }


def _config_path(flag: str | None, cwd: Path) -> Path | None:
    """`--config-file` (must exist), else `./config.json` when present, else none."""
    if flag:
        path = cwd / flag
        if not path.is_file():
            raise ConfigError(f"--config-file {flag}: no such file")
        return path
    default = cwd / DEFAULT_CONFIG_FILE
    return default if default.is_file() else None


def _file_value(spec: FieldSpec, config: ConfigFile | None) -> Any:
    if config is None or spec.key is None:
        return None
    section, key = spec.key
    return getattr(getattr(config, section), key)


def _pick(
    spec: FieldSpec, flags: Mapping[str, Any], environ: Mapping[str, str], config: Any, name: str
) -> tuple[Any, str]:
    """The value of one setting and its source, by precedence."""
    given = flags.get(spec.name)
    if given is not None:
        return given, spec.flag
    for var in spec.env:
        text = environ.get(var)
        if text:
            try:
                return spec.parse(text), var
            except ValueError as error:
                raise ConfigError(f"{var}={text!r}: {error}") from None
    value = _file_value(spec, config)
    if value is not None:
        return value, f"{name} ({'.'.join(spec.key or ())})"
    return spec.default, "default"


def resolve_config(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    cwd: str | Path = ".",
) -> CompareConfig:
    """Resolve every setting: flags (argparse dests; None = not given) > env > file > default.

    `flags` may also hold `config_file`, `debug` and `llm_json`."""
    path = _config_path(flags.get("config_file"), Path(cwd))
    config = load_config_file(path) if path is not None else None
    name = str(flags.get("config_file") or DEFAULT_CONFIG_FILE)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in FIELDS:
        values[spec.name], sources[spec.name] = _pick(spec, flags, environ, config, name)
    if not values["endpoint"]:
        where = f"api.endpoint in {name}"
        raise ConfigError(f"no endpoint: give -e/--endpoint URL, set LLM_LOAD_HOST, or {where}")
    if values["api_key"] is None:
        sources["api_key"] = "none"
    _check_key(values["api_key"], sources["api_key"])
    return CompareConfig(
        **values,
        debug=bool(flags.get("debug")),
        llm_json=str(flags.get("llm_json") or ""),
        config_file=str(path) if path is not None else None,
        sources=sources,
    )


def _check_key(key: str | None, source: str) -> None:
    """A key that cannot go into an HTTP header is a configuration error."""
    problem = ApiKey(key, source).problem
    if problem:
        raise ConfigError(f"the API key from {source} {problem}")
