"""Settings resolution: key precedence, web-form text coerced, key never in public(); the one
option table behind the parser, the settings and the summary."""

from locust.argument_parser import get_parser

import dataclasses
from types import SimpleNamespace

import pytest

from llm_load.locust.options import DEFAULT_PROMPT, OPTIONS, add_arguments
from llm_load.locust.settings import Settings


def options(**values):
    base = {
        "model": "m",
        "api_key": "",
        "max_tokens": 128,
        "prompt": "p",
        "temperature": None,
        "no_stream": False,
        "request_timeout": 60.0,
        "llm_json": "",
        "threshold": None,
    }
    return SimpleNamespace(**{**base, **values})


def test_flag_beats_openai_env():
    s = Settings.from_options(
        options(api_key="sk-flag-1234"), "h", {"OPENAI_API_KEY": "sk-env-9999"}
    )
    assert (s.api_key, s.key_source) == ("sk-flag-1234", "--api-key / LLM_LOAD_API_KEY")


def test_openai_env_is_the_fallback():
    s = Settings.from_options(options(), "h", {"OPENAI_API_KEY": "sk-env-9999"})
    assert (s.api_key, s.key_source) == ("sk-env-9999", "OPENAI_API_KEY")
    assert Settings.from_options(options(), "h", {}).key_source == "none"


def test_blank_key_from_the_web_form_keeps_the_configured_key():
    s = Settings.from_options(options(api_key=""), "h", {}, configured_key="sk-start-4321")
    assert s.api_key == "sk-start-4321"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (
            {"temperature": "0.7", "max_tokens": "64", "request_timeout": "5", "no_stream": "true"},
            (0.7, 64, 5.0, False),
        ),
        (
            {"temperature": "", "max_tokens": "", "request_timeout": "", "no_stream": ""},
            (None, None, 60.0, True),
        ),
    ],
)
def test_web_form_text_is_coerced(form, expected):
    s = Settings.from_options(options(**form), "h", {})
    assert (s.temperature, s.max_tokens, s.request_timeout_s, s.stream) == expected


def test_public_settings_redact_the_key():
    s = Settings.from_options(options(api_key="sk-secret-abcdef123456"), "h", {})
    assert "secret" not in str(s.public()) and s.public()["api_key"] == "sk-…3456"


def parse(argv=(), env=None):
    parser = get_parser()
    add_arguments(parser)
    return parser.parse_args(list(argv), env_vars=env or {})


def test_one_option_table_drives_parser_settings_and_summary():
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert fields == {o.attribute for o in OPTIONS} | {"host", "key_source"}
    assert [o.env_var for o in OPTIONS if o.secret] == ["LLM_LOAD_API_KEY"]
    s = Settings.from_options(parse(), "h", {})
    assert (s.max_tokens, s.prompt, s.request_timeout_s, s.tool_turns, s.stream_reader) == (
        128,
        DEFAULT_PROMPT,
        60.0,
        3,
        "reactor",
    )
    assert s.public()["prompt_chars"] == len(DEFAULT_PROMPT) and s.public()["stream"] is True


@pytest.mark.parametrize(
    ("env", "attribute", "value"),
    [
        ({"LLM_LOAD_MAX_TOKENS": "7"}, "max_tokens", 7),
        ({"LLM_LOAD_NO_STREAM": "true"}, "stream", False),
        ({"LLM_LOAD_TOOL_TURNS": "5"}, "tool_turns", 5),
        ({"LLM_LOAD_STREAM_READER": "greenlet"}, "stream_reader", "greenlet"),
        ({"LLM_LOAD_API_KEY": "sk-env-flag-1234"}, "key_source", "--api-key / LLM_LOAD_API_KEY"),
    ],
)
def test_each_option_is_also_an_env_var(env, attribute, value):
    assert getattr(Settings.from_options(parse(env=env), "h", {}), attribute) == value


def test_scenario_headers_read_secrets_from_the_environment_and_flags_win(tmp_path):
    from llm_load.core.scenario.schema import ScenarioError, load_scenario
    from llm_load.locust.settings import resolve_settings

    path = tmp_path / "s.yaml"
    target = "{host: 'http://h', headers: {Authorization: 'Bearer ${TEAM_KEY}', X-Team: red}}"
    path.write_text(
        f"name: s\ntarget: {target}\nmodels: [{{name: m}}]\nprompts: {{inline: [hi]}}\n"
    )
    argv = ["--scenario", str(path), "--header", "X-Team: blue"]
    s = resolve_settings(parse(argv), "", environ={"TEAM_KEY": "sk-team-secret-99"})
    assert s.request_headers() == {"Authorization": "Bearer sk-team-secret-99", "X-Team": "blue"}
    assert "sk-team-secret-99" in s.secrets and "sk-team-secret-99" not in str(s.public())
    with pytest.raises(ScenarioError, match="TEAM_KEY unset"):
        resolve_settings(parse(argv), "", environ={})
    path.write_text(path.read_text().replace("${TEAM_KEY}", "sk-literal-1"))
    with pytest.raises(ScenarioError, match="never put a secret") as error:
        load_scenario(path)
    assert "sk-literal-1" not in str(error.value)
