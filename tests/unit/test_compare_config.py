"""`llm-load compare` settings: flags > env > config file (JSON or YAML) > defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_load.compare.config import (
    DEFAULT_PROMPT,
    FIELDS,
    ConfigError,
    load_config_file,
    parse_models,
    resolve_config,
)

# field -> (flag value, env var, env text, parsed env value, config key, file value, default)
MATRIX: dict[str, tuple[Any, str, str, Any, tuple[str, str], Any, Any]] = {
    "endpoint": ("http://flag:1", "LLM_LOAD_HOST", "http://env:2", "http://env:2",
                 ("api", "endpoint"), "http://file:3/v1", None),
    "api_key": ("sk-flag-0000", "LLM_LOAD_API_KEY", "sk-env-1111", "sk-env-1111",
                ("api", "token"), "sk-file-2222", None),
    "models": (("a", "b"), "LLM_LOAD_MODELS", "c, d", ("c", "d"),
               ("defaults", "models"), ["e", "f"], ()),
    "prompt": ("flag prompt", "LLM_LOAD_PROMPT", "env prompt", "env prompt",
               ("defaults", "prompt"), "file prompt", DEFAULT_PROMPT),
    "passes": (4, "LLM_LOAD_PASSES", "5", 5, ("defaults", "passes"), 6, 1),
    "temperature": (0.1, "LLM_LOAD_TEMPERATURE", "0.2", 0.2,
                    ("defaults", "temperature"), 0.3, 0.7),
    "max_tokens": (11, "LLM_LOAD_MAX_TOKENS", "12", 12, ("defaults", "max_tokens"), 13, 1024),
    "timeout_s": (7.0, "LLM_LOAD_REQUEST_TIMEOUT", "8", 8.0, ("defaults", "timeout"), 9, 30.0),
    "parallel_models": (2, "LLM_LOAD_PARALLEL_MODELS", "3", 3,
                        ("defaults", "parallel_models"), 4, 1),
    "parallel_requests": (5, "LLM_LOAD_PARALLEL_REQUESTS", "6", 6,
                          ("defaults", "parallel_requests"), 7, 1),
}  # fmt: skip
LAYERS = [
    # (flag given, env set, file has it) -> expected winner
    ((True, True, True), "flag"),
    ((True, False, True), "flag"),
    ((True, False, False), "flag"),
    ((False, True, True), "env"),
    ((False, True, False), "env"),
    ((False, False, True), "file"),
    ((False, False, False), "default"),
]
BASE_ENDPOINT = "http://base:9"


def write_config(tmp_path: Path, data: dict[str, Any], fmt: str) -> Path:
    path = tmp_path / f"llm.{fmt}"
    text = json.dumps(data) if fmt == "json" else yaml.safe_dump(data)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize(("layers", "winner"), LAYERS)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_precedence_matrix(
    tmp_path: Path, fmt: str, layers: tuple[bool, bool, bool], winner: str, name: str
) -> None:
    flag, env_var, env_text, env_value, key, file_value, default = MATRIX[name]
    use_flag, use_env, use_file = layers
    data: dict[str, Any] = {"api": {}, "defaults": {}}
    if name != "endpoint":
        data["api"]["endpoint"] = BASE_ENDPOINT
    if use_file:
        data[key[0]][key[1]] = file_value
    path = write_config(tmp_path, data, fmt)
    flags = {"config_file": str(path), name: flag if use_flag else None}
    environ = {env_var: env_text} if use_env else {}
    if name == "endpoint" and winner == "default":
        with pytest.raises(ConfigError, match="no endpoint"):
            resolve_config(flags, environ, tmp_path)
        return
    config = resolve_config(flags, environ, tmp_path)
    expected = {"flag": flag, "env": env_value, "file": file_value, "default": default}[winner]
    if name == "models" and winner == "file":
        expected = tuple(file_value)
    assert getattr(config, name) == expected
    source = config.sources[name]
    spec = next(s for s in FIELDS if s.name == name)
    want_source = {
        "flag": spec.flag,
        "env": env_var,
        "file": f"{path} ({key[0]}.{key[1]})",
        "default": "none" if name == "api_key" else "default",
    }[winner]
    assert source == want_source


@pytest.mark.parametrize(
    ("environ", "value", "source"),
    [
        ({"LLM_LOAD_HOST": "http://a", "OPENAI_BASE_URL": "http://b"}, "http://a", "LLM_LOAD_HOST"),
        ({"OPENAI_BASE_URL": "http://b"}, "http://b", "OPENAI_BASE_URL"),
        ({"LLM_LOAD_HOST": "", "OPENAI_BASE_URL": "http://b"}, "http://b", "OPENAI_BASE_URL"),
    ],
)
def test_endpoint_env_order(environ: dict[str, str], value: str, source: str) -> None:
    config = resolve_config({}, environ, "/nonexistent-dir")
    assert (config.endpoint, config.sources["endpoint"]) == (value, source)


@pytest.mark.parametrize(
    ("environ", "value", "source"),
    [
        ({"LLM_LOAD_API_KEY": "sk-a-1234", "OPENAI_API_KEY": "sk-b-5678"}, "sk-a-1234",
         "LLM_LOAD_API_KEY"),
        ({"OPENAI_API_KEY": "sk-b-5678"}, "sk-b-5678", "OPENAI_API_KEY"),
        ({}, None, "none"),
    ],
)  # fmt: skip
def test_key_env_order(environ: dict[str, str], value: str | None, source: str) -> None:
    config = resolve_config({"endpoint": "http://h"}, environ, "/nonexistent-dir")
    assert (config.api_key, config.sources["api_key"]) == (value, source)


def test_default_config_json_in_cwd(tmp_path: Path) -> None:
    """Like the seed tester: ./config.json is read when no --config-file is given."""
    (tmp_path / "config.json").write_text(
        json.dumps({"api": {"endpoint": "http://seed/v1", "token": "tok-123456789"},
                    "defaults": {"passes": 5, "temperature": 0.8, "max_tokens": 512,
                                 "timeout": 60}})
    )  # fmt: skip
    config = resolve_config({}, {}, tmp_path)
    assert config.config_file == str(tmp_path / "config.json")
    assert (config.endpoint, config.api_key) == ("http://seed/v1", "tok-123456789")
    assert (config.passes, config.temperature, config.max_tokens, config.timeout_s) == (
        5, 0.8, 512, 60.0,
    )  # fmt: skip
    assert config.sources["passes"] == "config.json (defaults.passes)"
    assert "tok-123456789" not in repr(config)
    assert config.public()["api_key"] == "…6789"


def test_no_config_file_is_fine_with_flags(tmp_path: Path) -> None:
    config = resolve_config({"endpoint": "http://h", "debug": True}, {}, tmp_path)
    assert config.config_file is None
    assert config.debug and config.stream and config.passes == 1


def test_no_stream_from_env() -> None:
    config = resolve_config({"endpoint": "http://h"}, {"LLM_LOAD_NO_STREAM": "true"}, "/none")
    assert config.stream is False and config.sources["no_stream"] == "LLM_LOAD_NO_STREAM"


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ('{"api": {"endpoint": "http://h",}}', "json", r"llm\.json:1:\d+: invalid JSON"),
        ("api: [unclosed", "yaml", r"llm\.yaml:\d+:\d+: invalid YAML"),
        ('["a"]', "json", "expected an object"),
        ('{"api": {"endpont": "x"}}', "json", r"api\.endpont: unknown key.*'endpoint'"),
        ('{"defaults": {"passes": 0}}', "json", r"defaults\.passes: .*greater than or equal"),
        ('{"defaults": {"temperature": "hot"}}', "json", r"defaults\.temperature"),
        ('{"default": {}}', "json", r"default: unknown key.*'defaults'"),
    ],
)
def test_bad_config_file(tmp_path: Path, text: str, fmt: str, message: str) -> None:
    path = tmp_path / f"llm.{fmt}"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve_config({"config_file": str(path), "endpoint": "http://h"}, {}, tmp_path)


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--config-file nope\.json: no such file"):
        resolve_config({"config_file": "nope.json"}, {}, tmp_path)


@pytest.mark.parametrize(
    ("var", "text", "message"),
    [
        ("LLM_LOAD_PASSES", "0", "LLM_LOAD_PASSES='0': must be an integer >= 1"),
        ("LLM_LOAD_PASSES", "many", "LLM_LOAD_PASSES='many'"),
        ("LLM_LOAD_TEMPERATURE", "3", "must be within"),
        ("LLM_LOAD_REQUEST_TIMEOUT", "-1", "must be a number > 0"),
        ("LLM_LOAD_NO_STREAM", "maybe", "expected true/false"),
    ],
)
def test_bad_env_value(var: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config({"endpoint": "http://h"}, {var: text}, "/none")


@pytest.mark.parametrize("key", ["sk-abc\n", "sk-…abcd"])
def test_unsendable_key(key: str) -> None:
    with pytest.raises(ConfigError, match="the API key from --api-key") as info:
        resolve_config({"endpoint": "http://h", "api_key": key}, {}, "/none")
    assert key.strip() not in str(info.value)


def test_load_yaml_models_as_list_or_string(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("defaults:\n  models: 'x, y,x'\n")
    assert load_config_file(path).defaults.models == ("x", "y")
    path.write_text("defaults:\n  models: [x, ' y ']\n")
    assert load_config_file(path).defaults.models == ("x", "y")
    path.write_text("")
    assert load_config_file(path).api.endpoint is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a,b", ("a", "b")), (" a , ,b,a ", ("a", "b")), ("", ()), (["q", "q"], ("q",))],
)
def test_parse_models(value: Any, expected: tuple[str, ...]) -> None:
    assert parse_models(value) == expected
