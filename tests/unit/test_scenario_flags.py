"""`llm-load run`'s workload flags: flags -> scenario mapping -> a validated `Scenario`, the
flags over a scenario's keys, and clear errors for flags that cannot go together."""

from __future__ import annotations

import argparse

import pytest
import yaml

from llm_load import cli
from llm_load.core.scenario.flags import (
    apply_flags,
    flag_problems,
    parse_dist,
    parse_range,
    parse_turns,
)
from llm_load.core.scenario.schema import Scenario, ScenarioError, load_scenario
from llm_load.workload_cli import (
    build_scenario,
    locust_passthrough,
    wants_scenario,
    workload_scenario,
)
from tests.conftest import ROOT

DATA = ROOT / "scenarios" / "data"


def parse(*argv: str, scenario: str | None = None) -> argparse.Namespace:
    args, unknown = cli.build_parser().parse_known_args(["run", *argv])
    assert unknown == []
    args.scenario = None if scenario is None else str(ROOT / "scenarios" / f"{scenario}.yaml")
    return args


def scenario_of(*argv: str, scenario: str | None = None) -> tuple[dict, Scenario]:
    """(the mapping, the Scenario the schema makes of it) for `llm-load run ARGV`."""
    data = build_scenario(parse(*argv, scenario=scenario), [])
    with workload_scenario(data) as path:
        return data, load_scenario(path)


def test_token_exact_flags_make_a_synthetic_scenario():
    data, s = scenario_of(
        "-H", "http://127.0.0.1:8000", "--model", "m", "--input-tokens", "300",
        "--output-tokens", "50", "--exact-output", "--tokenizer", "server", "--warmup", "5",
        "-u", "4", "-r", "2", "-t", "30s",
    )  # fmt: skip
    assert data["prompts"] == {"synthetic": {"input_tokens": {"fixed": 300}}}
    assert data["output"] == {"tokens": {"fixed": 50}, "exact": True}
    assert [m.name for m in s.models] == ["m"] and s.target.host == "http://127.0.0.1:8000"
    assert s.prompts is not None and s.prompts.synthetic is not None
    assert s.prompts.synthetic.input_tokens.fixed == 300
    assert s.output is not None and s.output.tokens is not None and s.output.tokens.fixed == 50
    assert s.exact_output and s.tokenizer == "server" and s.warmup_window() == (0.0, 5)
    assert (s.load.users, s.load.spawn_rate, s.load.run_time) == (4, 2.0, "30s")


def test_length_ranges_are_uniform_distributions():
    _, s = scenario_of("--model", "m", "--input-tokens", "64-192", "--output-tokens", "8-16")
    assert s.prompts is not None and s.prompts.synthetic is not None
    assert s.prompts.synthetic.input_tokens.uniform == (64, 192)
    assert s.output is not None and s.output.tokens is not None
    assert s.output.tokens.uniform == (8, 16)


def test_dataset_flags_with_a_relative_path_and_multi_turn(tmp_path, monkeypatch):
    monkeypatch.chdir(DATA)  # a path relative to the working directory
    data, s = scenario_of(
        "--model", "m", "--dataset", "sharegpt_sample.json", "--dataset-sample", "5",
        "--multi-turn", "3", "--replies", "dataset", "--seed", "4",
    )  # fmt: skip
    assert data["prompts"]["dataset"]["file"] == str(DATA / "sharegpt_sample.json")
    assert len(s.dialogues) == 5 and s.seed == 4
    assert s.multi_turn is not None and (s.multi_turn.turns, s.multi_turn.replies) == (
        3,
        "dataset",
    )


def test_multi_turn_all_replays_every_dataset_turn():
    _, s = scenario_of("--model", "m", "--dataset", str(DATA / "chats_sample.jsonl"),
                       "--multi-turn", "all")  # fmt: skip
    assert s.multi_turn is not None and s.multi_turn.turns is None
    assert s.multi_turn.replies == "model" and len(s.dialogues) == 6


def test_prefix_flags():
    data, s = scenario_of("--model", "m", "--prefix-tokens", "512", "--prefix-groups", "4",
                          "--input-tokens", "64")  # fmt: skip
    assert data["prefix"] == {"tokens": 512, "groups": 4}
    assert s.prefix is not None and (s.prefix.groups, s.prefix.tokens) == (4, 512)


def test_trace_flags():
    data, s = scenario_of("--model", "m", "--trace", str(DATA / "trace_sample.jsonl"),
                          "--time-scale", "0.5", "--block-tokens", "128", "-u", "16")  # fmt: skip
    assert "prompts" not in data
    assert s.trace is not None and (s.trace.time_scale, s.trace.block_tokens) == (0.5, 128)
    assert len(s.trace_entries) == 60 and s.load.users == 16


def test_flags_replace_a_scenarios_keys_and_keep_the_rest():
    # prefix-cache: 4 weighted groups, uniform 64-192 unique tokens, 32 output tokens
    data, s = scenario_of("--prefix-groups", "2", "--input-tokens", "100", "--model", "other",
                          scenario="prefix-cache")  # fmt: skip
    assert s.prefix is not None and (s.prefix.groups, s.prefix.tokens) == (2, 512)
    assert s.prefix.weights is None  # the file's 4 weights were for its own 4 groups
    assert s.prompts is not None and s.prompts.synthetic is not None
    assert s.prompts.synthetic.input_tokens.fixed == 100
    assert [m.name for m in s.models] == ["other"]
    assert s.name == "prefix-cache" and s.thresholds == ["error_rate == 0"]
    assert data["load"] == {"users": 4, "spawn_rate": 4, "run_time": "10s"}


def test_output_tokens_replace_a_scenarios_synthetic_output_tokens():
    _, s = scenario_of("--output-tokens", "7", scenario="synthetic")
    assert s.prompts is not None and s.prompts.synthetic is not None
    assert s.prompts.synthetic.output_tokens is None
    assert s.output is not None and s.output.tokens is not None and s.output.tokens.fixed == 7


def test_a_scenarios_relative_data_files_stay_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data, s = scenario_of("--multi-turn", "2", scenario="chat-replay")
    assert data["prompts"]["dataset"]["file"] == str(DATA / "chats_sample.jsonl")
    assert len(s.dialogues) == 6 and s.multi_turn is not None and s.multi_turn.turns == 2
    _, s = scenario_of("--time-scale", "2", scenario="trace")
    assert s.trace is not None and s.trace.time_scale == 2 and len(s.trace_entries) == 60


def test_a_trace_flag_replaces_a_scenarios_prompts():
    _, s = scenario_of("--trace", str(DATA / "trace_sample.jsonl"), scenario="smoke")
    assert s.prompts is None and s.trace is not None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trace", "t.jsonl", "--dataset", "d.json"], "one prompt source: --dataset or --trace"),
        (["--input-tokens", "5", "--trace", "t.jsonl"], "--input-tokens or --trace, not both"),
        (["--input-tokens", "5", "--time-scale", "2"], "--time-scale needs --trace"),
        (["--input-tokens", "5", "--prefix-groups", "2"], "--prefix-groups needs --prefix-tokens"),
        (["--input-tokens", "5", "--dataset-sample", "2"], "--dataset-sample needs --dataset"),
        (["--trace", "t.jsonl", "--output-tokens", "5"], "a trace gives each request's output"),
        (["--multi-turn", "3"], "give a prompt source: --input-tokens N, --dataset FILE"),
        (["--output-tokens", "3"], "give a prompt source"),
    ],
)
def test_flags_that_cannot_go_together(argv, message):
    with pytest.raises(ScenarioError) as caught:
        build_scenario(parse("--model", "m", *argv), [])
    assert str(caught.value).startswith("flags: ") and message in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "message", "hint"),
    [
        (["--input-tokens", "5", "--multi-turn", "all"], "multi_turn.turns: required",
         "--multi-turn = multi_turn.turns"),
        (["--input-tokens", "5", "--replies", "dataset"], "replies: dataset needs prompts.data",
         "--replies = multi_turn.replies"),
        (["--input-tokens", "5", "--prefix-tokens", "0"], "prefix.tokens: ",
         "--prefix-tokens = prefix.tokens"),
        (["--trace", "t.jsonl", "--time-scale", "0"], "trace.time_scale: ", "--time-scale"),
    ],
)  # fmt: skip
def test_schema_errors_name_the_flags(argv, message, hint):
    data = build_scenario(parse("--model", "m", *argv), [])
    with pytest.raises(ScenarioError) as caught, workload_scenario(data):
        pass
    text = str(caught.value)
    assert text.startswith("(from flags)") and message in text and f"flags: {hint}" in text


def test_a_missing_dataset_file_is_named():
    data = build_scenario(parse("--model", "m", "--dataset", "/nonexistent/d.json"), [])
    with pytest.raises(ScenarioError) as caught, workload_scenario(data):
        pass
    assert "prompts.dataset: cannot read /nonexistent/d.json" in str(caught.value)


@pytest.mark.parametrize(
    "argv",
    [["--input-tokens", "x"], ["--input-tokens", "5-"], ["--multi-turn", "0"],
     ["--warmup", "soon"], ["--replies", "user"]],
)  # fmt: skip
def test_bad_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        parse(*argv)
    assert caught.value.code == 2 and argv[0] in capsys.readouterr().err


def test_which_flags_make_a_scenario():
    assert not wants_scenario(parse())
    # Locust options of the chat user too: no scenario needed for them alone
    assert not wants_scenario(parse("--exact-output", "--tokenizer", "server", "--model", "m"))
    assert wants_scenario(parse("--input-tokens", "5"))
    assert wants_scenario(parse("--print-scenario"))
    assert wants_scenario(parse("--model", "m", scenario="smoke"))  # replaces its models
    assert not wants_scenario(parse("--warmup", "5", scenario="smoke"))  # Settings merge it


def test_locust_options_are_passed_on():
    args = parse("--model", "m", "--exact-output", "--tokenizer", "usage", "--warmup", "2m")
    assert locust_passthrough(args) == [
        "--model", "m", "--tokenizer", "usage", "--exact-output", "--warmup", "2m",
    ]  # fmt: skip
    assert locust_passthrough(parse("--input-tokens", "5")) == []


def test_print_scenario_writes_a_scenario_file_that_loads(tmp_path, capsys):
    code = cli.main(["run", "--model", "m", "--prefix-tokens", "256", "--input-tokens",
                     "32-64", "--output-tokens", "16", "-u", "3", "--print-scenario"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    path = tmp_path / "saved.yaml"
    path.write_text(out)
    s = load_scenario(path)
    assert s.prefix is not None and s.prefix.tokens == 256 and s.load.users == 3
    assert list(yaml.safe_load(out))[:3] == ["name", "description", "models"]


def test_print_scenario_of_bad_flags_exits_2(capsys):
    code = cli.main(["run", "--model", "m", "--input-tokens", "5", "--multi-turn", "all",
                     "--print-scenario"])  # fmt: skip
    assert code == 2 and "multi_turn.turns" in capsys.readouterr().err


def test_pure_helpers():
    assert parse_dist("300") == {"fixed": 300} and parse_dist("1-2") == {"uniform": [1, 2]}
    assert parse_turns("all") == 0 and parse_turns("3") == 3
    assert flag_problems({"input_tokens": "5"}, None) == []
    base = {"name": "b", "models": [{"name": "a"}, {"name": "b", "weight": 2}],
            "prompts": {"inline": ["hi"]}}  # fmt: skip
    out = apply_flags({"model": "b", "host": "http://x", "users": 9}, base)
    assert out["models"] == [{"name": "b", "weight": 2}]  # the scenario's spec kept
    assert "target" not in out and "load" not in out  # the file's own target and load stay
    assert base["models"][0] == {"name": "a"}  # the base is not changed


def test_dataset_length_filter_flags():
    data, s = scenario_of(
        "--model", "m", "--dataset", str(DATA / "sharegpt_sample.json"),
        "--dataset-input-tokens", "-20", "--dataset-output-tokens", "40-",
    )  # fmt: skip
    spec = data["prompts"]["dataset"]
    assert (spec["max_input_tokens"], spec["min_output_tokens"]) == (20, 40)
    assert "min_input_tokens" not in spec and "max_output_tokens" not in spec
    everything = scenario_of("--model", "m", "--dataset", str(DATA / "sharegpt_sample.json"))[1]
    assert 0 < len(s.dialogues) < len(everything.dialogues)  # the filters kept fewer


@pytest.mark.parametrize("text", ["20", "-", "a-b", "0-5", "5-x"])
def test_a_bad_length_range_is_refused(text):
    with pytest.raises(ValueError, match="MIN-MAX"):
        parse_range(text)
    assert parse_range("3-9") == (3, 9)
