"""`llm-load doctor --api X` against the mock: which of the five APIs it answers, one request
of X decoded by the load test's protocol row, and a refused API's failure with its message."""

from __future__ import annotations

import pytest

from llm_load.mock import spawn_mock
from tests.integration.test_doctor import FAST, KEY, doctor

pytestmark = pytest.mark.timeout(120)
APIS = ["chat", "responses", "messages", "completions", "embeddings"]


@pytest.mark.parametrize("api", APIS[1:])
def test_each_api_is_checked_with_its_own_framing(api: str) -> None:
    with spawn_mock(*FAST, "--api-key", KEY) as mock:
        run = doctor("-H", mock.base_url, "--api", api, "--json", "--api-key", KEY)
    doc = run.json()
    assert run.code == doc["exit_code"] == 0, doc
    names = [s["name"] for s in doc["steps"]]
    assert names == ["connect", "endpoint", "auth", "model", "apis", "api"]
    assert doc["steps"][4]["details"]["answered"] == APIS
    step = doc["steps"][5]
    assert step["level"] == "ok" and step["details"]["api"] == api
    assert step["details"]["usage"] and f"--api {api}" in doc["verdict"]
    if api == "embeddings":
        assert "dimension 64" in step["message"] and step["details"]["events"] == 0
    else:
        assert step["details"]["token_chunks"] == 8 and "end seen" in step["message"]


def test_a_refusing_server_fails_the_api_step_with_its_message() -> None:
    with spawn_mock(*FAST, "--error-rate", "1", "--error-status", "529") as mock:
        run = doctor("-H", mock.base_url, "--api", "messages", "--model", "mock-llm")
    assert run.code == 14, run.out
    assert "refused" not in run.line("apis") and "not chat (529" in run.line("apis")
    assert run.line("api").startswith("✗ ") and "injected by llm-load mock" in run.line("api")
