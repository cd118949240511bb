"""The tokenizer in whole runs against the mock's deterministic /tokenize: its `tokenizer`
summary object on the master of a distributed run, and dataset length filters by real
token counts (each entry counted once per sending process)."""

from __future__ import annotations

import json

import pytest

from llm_load.core.scenario.tokens import fit_tokens
from llm_load.mock.process import spawn_mock
from llm_load.mock.tokenize import count_tokens
from tests.conftest import load
from tests.integration.test_scenarios import run, scenario
from tests.integration.test_workloads import MOCK, exact_scenario
from tests.unit.test_datasets import FILTERED, FILTERS

pytestmark = pytest.mark.timeout(120)


def test_two_workers_ship_their_tokenizer_object_to_the_master(tmp_path, summary_path):
    from tests.integration.test_distributed import cluster
    from tests.integration.test_scenario_distributed import SCENARIO_LOCUSTFILE, finish

    path = exact_scenario(tmp_path, input_tokens=64)
    with spawn_mock(*MOCK) as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 4, "3s", "--scenario", str(path),
            "--tokenizer", "server", locustfile=SCENARIO_LOCUSTFILE,
        )  # fmt: skip
        _, err = finish(master, workers)
        truth = [r for r in mock.stats()["requests"] if r["completed"]]
    assert master.returncode == 0, err[-3000:]
    s = load(summary_path)
    # what each worker found, as one object: the fit of the mock's tokenizer (no chat
    # template: no overhead), reported by both workers alike (no `by_worker`)
    fit = fit_tokens(lambda text: count_tokens(len(text)), "server /tokenize (vllm)", seed=0)
    assert fit is not None and fit.public()["template_overhead_tokens"] == 0
    assert s["tokenizer"] == {**fit.public(), "workers": 2}
    assert s["tokenizer"]["verified"] == "3/3 sample texts exact"
    assert s["settings"]["tokenizer"] == "server"
    # the object describes what was sent: every load request has 64 prompt tokens
    load_requests = [r for r in truth if r["tokens"] == 5]
    assert load_requests and {r["prompt_chars"] // 4 + 1 for r in load_requests} == {64}


def dataset_run(tmp_path, summary_path, tokenizer: str) -> tuple[dict, set[int]]:
    """(summary, prompt lengths the mock received) of a filtered dataset run."""
    items = [
        {"conversations": [{"from": "human", "value": "x" * n}, {"from": "gpt", "value": "y" * r}]}
        for n, r in FILTERED
    ]
    (tmp_path / "data.json").write_text(json.dumps(items))
    path = scenario(tmp_path, prompts={"dataset": {"file": "data.json", **FILTERS}})
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "3") as mock:
        proc = run(path, mock.base_url, "--llm-json", str(summary_path), "--tokenizer", tokenizer)
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    return load(summary_path), {r["prompt_chars"] for r in truth}


def test_dataset_filters_count_with_the_servers_tokenizer(tmp_path, summary_path):
    s, sent = dataset_run(tmp_path, summary_path, "server")
    assert sent == {41, 42, 43}  # the mock's counts: 10 prompt tokens, a reply of <= 5
    assert s["tokenizer"] == {
        "source": "server /tokenize (vllm)",
        "dataset": {"entries": 5, "counted": 5, "kept": 3, "limited": False, "texts_counted": 9},
    }
    assert s["totals"]["requests"] > 20
    s, sent = dataset_run(tmp_path, summary_path, "estimate")
    assert sent == {39, 41}  # ~4 characters a token
    assert "tokenizer" not in s
