"""`--server-metrics` options: the URL scraped, the scenario's `target.metrics`, the key."""

from __future__ import annotations

import pytest

from llm_load.locust.server_metrics import metrics_url
from llm_load.locust.settings import resolve_settings
from tests.unit.test_settings import options


@pytest.mark.parametrize(
    ("option", "host", "expected"),
    [
        ("auto", "http://127.0.0.1:8000/v1", ("http://127.0.0.1:8000/metrics", False)),
        ("host", "https://h.example:443/api/v1", ("https://h.example:443/metrics", True)),
        ("http://other:9090/metrics", "http://h:1", ("http://other:9090/metrics", True)),
        ("off", "http://h:1", (None, False)),
        ("auto", "", (None, False)),
    ],
)
def test_metrics_url(option, host, expected):
    assert metrics_url(option, host) == expected


def scenario_file(tmp_path, metrics: str | None) -> str:
    target = "target: {host: 'http://127.0.0.1:1'" + (f", metrics: '{metrics}'" if metrics else "")
    text = f"name: s\n{target}}}\nmodels: [{{name: m}}]\nprompts: {{inline: [hi]}}\n"
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("flag", "in_scenario", "expected"),
    [
        ("auto", "http://x:9/metrics", "http://x:9/metrics"),
        ("off", "http://x:9/m", "off"),
        ("auto", None, "auto"),
    ],
)
def test_scenario_target_metrics_unless_the_flag_says_otherwise(
    tmp_path, flag, in_scenario, expected
):
    opts = options(
        scenario=scenario_file(tmp_path, in_scenario),
        server_metrics=flag,
        server_metrics_interval="0.5",
        server_metric=["a", "b"],
    )
    settings = resolve_settings(opts, "", environ={})
    assert settings.server_metrics == expected
    assert settings.server_metrics_interval_s == 0.5 and settings.server_metric == ("a", "b")
