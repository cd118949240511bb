"""`llm-load run SCENARIO.yaml` without `--headless`: Locust's web UI drives a scenario.

The web UI listens on a free 127.0.0.1 port (`-- --web-host/--web-port`); a test is started
through Locust's HTTP API (`POST /swarm` with users, spawn rate, run time and the mock's URL
as host, the way the start form does it), followed on `/llm/summary`, stopped with
`POST /stop`, and checked against the mock's ground truth: counts per model, the model mix,
the scenario's prompts. A SIGTERM to `llm-load run` then ends Locust too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from llm_load.core.scenario.schema import Scenario, load_scenario
from llm_load.mock.process import spawn_mock
from tests.conftest import ROOT, clean_env, load
from tests.integration.test_webui import LoggedProcess, free_port, get, get_json

pytestmark = pytest.mark.timeout(120)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy to 127.0.0.1
USERS = 3  # the form's user count, different from the scenarios' own
ENOUGH = 60  # LLM requests before the test is stopped


def post(url: str, **form: object) -> dict[str, Any]:
    data = urllib.parse.urlencode({k: str(v) for k, v in form.items()}).encode()
    with _OPENER.open(urllib.request.Request(url, data=data, method="POST"), timeout=10) as resp:
        return json.loads(resp.read())


class WebRun(LoggedProcess):
    """`llm-load run SCENARIO --llm-json PATH -H <unused> -- --web-host 127.0.0.1 --web-port P`
    in its own process group (Locust is its child), output in a log file."""

    name = "llm-load run"

    def __init__(self, tmp_path: Path, scenario: Path, summary: Path) -> None:
        self.url = f"http://127.0.0.1:{(port := free_port())}"
        self.log = tmp_path / "llm-load-run.log"
        # -H: a dead port, so requests reach the mock only if the form's host is used.
        cmd = [sys.executable, "-m", "llm_load.cli", "run", str(scenario), "-H",
               "http://127.0.0.1:9", "--llm-json", str(summary), "--", "--web-host",
               "127.0.0.1", "--web-port", str(port)]  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=clean_env(), cwd=ROOT, start_new_session=True,
            )  # fmt: skip

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM to `llm-load run` alone: it passes the signal on to Locust."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group outlives its leader
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@contextmanager
def web_run(tmp_path: Path, scenario: Path, summary: Path) -> Iterator[WebRun]:
    run = WebRun(tmp_path, scenario, summary)
    try:
        yield run
    finally:
        run.kill_group()


def prompt_shapes(scenario: Scenario) -> set[tuple[int, int]]:
    """(messages, characters) of each of the scenario's prompts, as the mock records them."""
    return {(len(c), sum(len(m["content"]) for m in c)) for c in scenario.conversations}


@pytest.mark.parametrize("name", ["smoke.yaml", "csv-prompts.yaml"])
def test_web_ui_run_of_a_shipped_scenario_matches_the_mock(tmp_path: Path, name: str) -> None:
    path = ROOT / "scenarios" / name
    scenario = load_scenario(path)
    summary_path = tmp_path / "summary.json"
    with (
        spawn_mock("--ttft-ms", "10", "--itl-ms", "1", "--tokens", "16") as mock,
        web_run(tmp_path, path, summary_path) as web,
    ):
        idle = web.wait_until(lambda: get_json(web.url + "/llm/summary"), 30, "the web UI")
        assert idle["totals"]["requests"] == 0
        started = post(
            web.url + "/swarm", user_count=USERS, spawn_rate=USERS, host=mock.base_url,
            run_time="60s",
        )  # fmt: skip
        assert started["success"] and started["host"] == mock.base_url, started
        web.wait_until(
            lambda: get_json(web.url + "/llm/summary")["totals"]["requests"] >= ENOUGH,
            40,
            f"{ENOUGH} LLM requests in /llm/summary",
        )
        assert post(web.url + "/stop")["success"]
        web.wait_until(summary_path.exists, 30, "the summary written at test stop")
        final = get_json(web.url + "/llm/summary")
        state = get_json(web.url + "/stats/requests")["state"]
        truth = mock.stats()["requests"]
        code = web.terminate()
        with pytest.raises(OSError):  # Locust is gone with its web UI
            get(web.url + "/")
    assert code == 0, web.tail()
    assert state == "stopped" and final == load(summary_path)
    check_against_truth(final, truth, scenario)
    assert final["settings"]["scenario"] == scenario.name and final["target"] == mock.base_url
    assert max(p["users"] for p in final["timeseries"]["points"]) == USERS
    assert final["duration_s"] < 30  # stopped by /stop, not by the scenario's run time


def check_against_truth(summary: dict, truth: list[dict], scenario: Scenario) -> None:
    """Counts per model equal the mock's, the mix follows the weights, prompts are the file's."""
    totals, by_model = summary["totals"], summary["by_model"]
    assert totals["failures"] == 0 and totals["requests"] >= ENOUGH
    assert totals["requests"] + totals["cancelled"] == len(truth)
    per_model = Counter(r["model"] for r in truth)
    weights = {m.name: m.weight for m in scenario.models}
    assert set(by_model) == set(per_model) == set(weights)
    for model, row in by_model.items():
        assert row["requests"] + row["cancelled"] == per_model[model], model
        share, expected = per_model[model] / len(truth), weights[model] / sum(weights.values())
        assert abs(share - expected) < 0.2, (model, share, expected)
    shapes = prompt_shapes(scenario)
    sent = {(r["messages"], r["prompt_chars"]) for r in truth}
    assert sent <= shapes and len(sent) >= min(len(shapes), 8), (sent, shapes)
