"""Settings resolution: key precedence, web-form text coerced, key never in public()."""

from types import SimpleNamespace

import pytest

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
