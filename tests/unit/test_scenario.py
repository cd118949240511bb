"""Scenario schema errors (file + key path + expectation), shipped examples, sampling, stages."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from llm_load.core.scenario.sampling import (
    CHARS_PER_TOKEN,
    Conversation,
    Sampler,
    draw,
    synthetic_text,
)
from llm_load.core.scenario.schema import Dist, Scenario, ScenarioError, load_scenario
from llm_load.locust.scenario import shape_tick
from llm_load.locust.settings import resolve_settings
from llm_load.scenario_cli import locust_command

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))
BASE = {
    "name": "t",
    "models": [{"name": "a"}],
    "prompts": {"inline": ["hello"]},
}


def write(tmp_path: Path, data: dict | str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


def with_(**changes: object) -> dict:
    return {**BASE, **changes}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name and scenario.summary()
    assert "llm-load run scenarios/" in path.read_text()


def test_examples_cover_the_features() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"smoke", "model-mix", "ramp", "multi-turn", "synthetic"} <= names
    assert load_scenario(ROOT / "scenarios/ramp.yaml").load.stages
    assert len(load_scenario(ROOT / "scenarios/model-mix.yaml").conversations) >= 5


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        (with_(modles=[]), "modles", "unknown key; expected one of: name, description"),
        (with_(models=[{"name": "a", "weigth": 2}]), "models[0].weigth", "did you mean 'weight'"),
        (with_(models=[{"name": "a", "weight": "x"}]), "models[0].weight", "valid number"),
        (with_(load={"users": -1}), "load.users", "greater than or equal to 1 (got -1)"),
        (with_(load={"spawn_rate": -2}), "load.spawn_rate", "greater than 0 (got -2)"),
        (with_(load={"run_time": "ten"}), "load.run_time", "duration like 30s"),
        (with_(load={"think_time_s": [3, 1]}), "load.think_time_s", "0 <= LO <= HI"),
        (
            with_(load={"stages": [{"duration_s": 0, "users": 1}]}),
            "load.stages[0].duration_s",
            "greater than 0",
        ),
        (
            with_(models=[{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]),
            "models",
            "weights sum to 0",
        ),
        (with_(thresholds=["ttft_ms.p99 < 1", "ttft_ms < 5"]), "thresholds[1]", "needs one of"),
        (with_(target={"api_key": "sk-123"}), "target", "never put an API key"),
        (with_(target={"api_key_env": "not a name"}), "target.api_key_env", "pattern"),
        (with_(prompts={"inline": ["x"], "file": "p.jsonl"}), "prompts", "exactly one of"),
        (
            with_(prompts={"synthetic": {"input_tokens": {"uniform": [9, 3]}}}),
            "prompts.synthetic.input_tokens",
            "LO <= HI",
        ),
        (with_(prompts={"inline": [[{"role": "bot", "content": "x"}]]}), "prompts.inline[0]", ""),
        ({"name": "t", "prompts": {"inline": ["x"]}}, "models", "required key is missing"),
    ],
)
def test_schema_errors_name_file_key_and_expectation(tmp_path, data, path, expected) -> None:
    scenario_path = write(tmp_path, data)
    message = error_of(scenario_path)
    line = next((x for x in message.splitlines() if x.startswith(f"{scenario_path}: {path}")), "")
    assert line, message
    assert expected in line, message


def test_every_problem_is_listed(tmp_path) -> None:
    message = error_of(write(tmp_path, with_(load={"users": 0, "spawn_rate": 0}, extra=1)))
    assert len(message.splitlines()) == 3


def test_malformed_yaml_gives_line_and_column(tmp_path) -> None:
    path = write(tmp_path, "name: t\nmodels: [\n  - a\n")
    assert error_of(path).startswith(f"{path}:3:3: invalid YAML")


def test_not_a_mapping_and_missing_file(tmp_path) -> None:
    assert "expected a mapping" in error_of(write(tmp_path, "- a\n- b\n"))
    assert "cannot read" in error_of(tmp_path / "nope.yaml")


def test_prompt_file_relative_to_scenario(tmp_path) -> None:
    (tmp_path / "data").mkdir()
    lines = [{"prompt": "one"}, {"messages": [{"role": "user", "content": "two"}], "id": 7}]
    (tmp_path / "data/p.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    scenario = load_scenario(write(tmp_path, with_(prompts={"file": "data/p.jsonl"})))
    assert scenario.conversations == [
        [{"role": "user", "content": "one"}],
        [{"role": "user", "content": "two"}],
    ]


def test_missing_dataset_file_is_named(tmp_path) -> None:
    path = write(tmp_path, with_(prompts={"file": "data/none.jsonl"}))
    message = error_of(path)
    assert message.startswith(f"{path}: prompts.file: cannot read ") and "none.jsonl" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"prompt": "ok"', "invalid JSON"),
        ('{"text": "no"}', 'expected {"messages"'),
        ('{"messages": [{"role": "user"}]}', "Field required"),
        ('{"prompt": "hi", "max_tokens": 9}', "key 'max_tokens': no per-prompt max_tokens"),
        ('{"prompt": "hi", "model": "m"}', "key 'model': no per-prompt model"),
    ],
)
def test_broken_jsonl_line_is_numbered(tmp_path, line, expected) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "fine"}\n\n' + line + "\n")
    message = error_of(write(tmp_path, with_(prompts={"file": "p.jsonl"})))
    assert "prompts.file" in message and "p.jsonl line 3" in message and expected in message


def test_model_mix_proportions_for_a_seed() -> None:
    scenario = Scenario.model_validate(
        with_(
            models=[
                {"name": "a", "weight": 3},
                {"name": "b", "weight": 1},
                {"name": "c", "weight": 0},
            ]
        )
    )
    sampler = Sampler(scenario, seed=1)
    counts = Counter(sampler.model().name for _ in range(8000))
    assert abs(counts["a"] / 8000 - 0.75) < 0.02 and counts["c"] == 0


def test_sampling_is_reproducible() -> None:
    scenario = Scenario.model_validate(
        with_(models=[{"name": "a"}, {"name": "b"}], prompts={"inline": ["x", "y", "z"]})
    )

    def run(seed: str) -> list:
        s = Sampler(scenario, seed=seed)
        return [(s.model().name, s.prompt()[0]["content"]) for _ in range(30)]

    assert run("1:0:0") == run("1:0:0") != run("1:0:1")


@pytest.mark.parametrize("tokens", [1, 10, 100, 1000])
def test_synthetic_text_length(tokens: int) -> None:
    import random

    text = synthetic_text(random.Random(0), tokens)
    assert len(text) == tokens * CHARS_PER_TOKEN and text == synthetic_text(
        random.Random(0), tokens
    )


def test_distributions_stay_in_bounds() -> None:
    import random

    rng = random.Random(3)
    normal = Dist.model_validate({"normal": {"mean": 100, "std": 50, "min": 80, "max": 120}})
    values = [draw(rng, normal) for _ in range(2000)]
    assert min(values) == 80 and max(values) == 120
    assert 95 < sum(values) / len(values) < 105
    uniform = Dist.model_validate({"uniform": [5, 7]})
    assert {draw(rng, uniform) for _ in range(200)} == {5, 6, 7}
    assert draw(rng, Dist.model_validate({"fixed": 9})) == 9


def test_synthetic_requests_lengths_and_max_tokens() -> None:
    scenario = Scenario.model_validate(
        with_(
            models=[{"name": "a", "max_tokens": 500}],
            prompts={
                "synthetic": {"input_tokens": {"fixed": 50}, "output_tokens": {"uniform": [8, 16]}}
            },
        )
    )
    conversation = Conversation(Sampler(scenario, seed=2))
    requests = [conversation.next_request() for _ in range(100)]
    assert {len(r.messages[0]["content"]) for r in requests} == {200}
    assert all(8 <= r.max_tokens <= 16 for r in requests)


def test_model_overrides_reach_the_request() -> None:
    model = {"name": "a", "max_tokens": 7, "temperature": 0.5, "extra": {"top_k": 3}}
    scenario = Scenario.model_validate(with_(models=[model]))
    request = Conversation(Sampler(scenario)).next_request()
    assert (request.model, request.max_tokens, request.temperature) == ("a", 7, 0.5)
    assert request.extra == {"top_k": 3}


def test_multi_turn_history_grows_then_restarts() -> None:
    scenario = Scenario.model_validate(with_(multi_turn={"turns": 3}))
    conversation = Conversation(Sampler(scenario))
    sizes = []
    for i in range(7):
        request = conversation.next_request()
        sizes.append(len(request.messages))
        conversation.reply(f"answer {i}")
    assert sizes == [1, 3, 5, 1, 3, 5, 1]
    assert [m["role"] for m in request.messages] == ["user"]
    conversation.next_request()
    conversation.reply(None)  # a failed turn starts a new conversation
    assert len(conversation.next_request().messages) == 1


def test_think_time() -> None:
    fixed = Sampler(Scenario.model_validate(with_(load={"think_time_s": 0.25})))
    assert fixed.think_time_s() == 0.25
    ranged = Sampler(Scenario.model_validate(with_(load={"think_time_s": [1, 2]})))
    assert all(1 <= ranged.think_time_s() <= 2 for _ in range(100))


def test_stage_math_and_shape_tick() -> None:
    stages = [
        {"duration_s": 10, "users": 5, "spawn_rate": 5},
        {"duration_s": 5, "users": 20, "spawn_rate": 2},
    ]
    scenario = Scenario.model_validate(with_(load={"stages": stages}))
    load = scenario.load
    assert [load.stage_at(t) for t in (0, 9.9, 10, 14.9)] == [(5, 5), (5, 5), (20, 2), (20, 2)]
    assert load.stage_at(15) is None and load.stages_s == 15
    assert shape_tick(scenario, 3, 99, 9) == (5, 5.0)
    assert shape_tick(scenario, 3, None, None, run_time_s=2) is None
    plain = Scenario.model_validate(with_(load={"users": 7, "spawn_rate": 3}))
    assert shape_tick(plain, 100, None, None) == (7, 3.0)
    assert shape_tick(plain, 100, "4", "2") == (4, 2.0)
    assert shape_tick(None, 0, None, None) == (1, 1.0)


def test_settings_merge_scenario_thresholds_host_and_key_env() -> None:
    path = ROOT / "scenarios/model-mix.yaml"
    options = SimpleNamespace(scenario=str(path), threshold=["requests > 1"], model="", api_key="")
    settings = resolve_settings(options, "", environ={"OPENAI_API_KEY": "sk-abc"})
    assert settings.thresholds[0].text == "requests > 1"
    assert len(settings.thresholds) == 4 and settings.host == "http://127.0.0.1:8000"
    assert settings.model == "mock-llm" and settings.public()["scenario"] == "model-mix"
    assert settings.key_source == "OPENAI_API_KEY (scenario api_key_env)"
    errors: list = []
    missing = SimpleNamespace(scenario="/nonexistent.yaml")
    assert resolve_settings(missing, "h", on_error=errors.append).scenario is None
    assert "cannot read" in str(errors[0])
    with pytest.raises(ScenarioError):
        resolve_settings(missing, "h")


def test_locust_command_uses_scenario_values_unless_overridden() -> None:
    scenario = load_scenario(ROOT / "scenarios/smoke.yaml")
    args = SimpleNamespace(
        scenario="s.yaml", host=None, headless=True, users=None, spawn_rate=None,
        run_time=None, llm_json=None, html=None, llm_requests=None,
    )  # fmt: skip
    cmd = locust_command(scenario, args, Path("f.py"), ["--loglevel", "WARNING"])
    joined = " ".join(cmd[3:])
    assert joined == (
        "-f f.py --scenario s.yaml -H http://127.0.0.1:8000 --headless -u 4 -r 4 -t 10s "
        "--loglevel WARNING"
    )
    args.host, args.users, args.run_time, args.llm_json = "http://x", 2, "3s", "o.json"
    joined = " ".join(locust_command(scenario, args, Path("f.py"), [])[3:])
    assert "-H http://x" in joined and "-u 2" in joined and "-t 3s --llm-json o.json" in joined
    args.html, args.llm_requests = "r.html", "r.jsonl"
    joined = " ".join(locust_command(scenario, args, Path("f.py"), [])[3:])
    assert "--llm-html r.html --llm-requests r.jsonl" in joined
    ramp = load_scenario(ROOT / "scenarios/ramp.yaml")
    args.users, args.run_time = None, None
    assert "-u" not in locust_command(ramp, args, Path("f.py"), [])
