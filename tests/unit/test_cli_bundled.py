"""`llm-load run` without a scenario, bundled scenarios by name, `scenarios`, `init` and
`locustfile`: argument handling and the files they find or copy (no Locust run here)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

import llm_load
from llm_load import bundled, cli, scenario_cli
from llm_load.core.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_resolve_scenario_prefers_files_then_bundled_names(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    smoke = str(ROOT / "scenarios" / "smoke.yaml")
    assert bundled.resolve_scenario("smoke") == smoke
    assert bundled.resolve_scenario("smoke.yaml") == smoke
    assert bundled.resolve_scenario("nope") == "nope"  # the error then says it cannot be read
    assert bundled.resolve_scenario("dir/smoke.yaml") == "dir/smoke.yaml"  # a path stays one
    (tmp_path / "smoke.yaml").write_text("name: mine\n")
    assert bundled.resolve_scenario("smoke.yaml") == "smoke.yaml"  # a file of that name wins


def test_bundled_lists_shipped_files() -> None:
    names = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    assert list(bundled.bundled_scenarios()) == names and "smoke" in names
    assert bundled.locustfile_names() == ["capacity", "chat", "scenario", "tools"]
    assert bundled.locustfile_path("chat.py") == ROOT / "locustfiles" / "chat.py"
    with pytest.raises(FileNotFoundError, match="shipped: capacity, chat, scenario, tools"):
        bundled.locustfile_path("nope")


def captured_command(monkeypatch, argv: list[str]) -> list[str]:
    """The Locust command `llm-load ARGV` would start (the process is not started)."""
    started: list[list[str]] = []

    class Popen:
        def __init__(self, cmd: list[str]) -> None:
            started.append(cmd)

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(scenario_cli.subprocess, "Popen", Popen)
    assert cli.main(argv) == 0
    (cmd,) = started
    assert cmd[:3] == [sys.executable, "-m", "locust"]
    return cmd[3:]


def test_run_without_scenario_runs_the_chat_locustfile(monkeypatch) -> None:
    cmd = captured_command(
        monkeypatch,
        ["run", "-H", "http://h", "--model", "M", "-u", "32", "-r", "8", "-t", "2m",
         "--max-tokens", "64", "--headless", "--csv", "out", "--llm-json", "s.json"],
    )  # fmt: skip
    assert cmd[:2] == ["-f", str(ROOT / "locustfiles" / "chat.py")] and "--scenario" not in cmd
    joined = " ".join(cmd[2:])
    assert joined.startswith("-H http://h --headless -u 32 -r 8 -t 2m --llm-json s.json ")
    assert "--model M" in joined and "--max-tokens 64" in joined and "--csv out" in joined


def test_run_by_name_and_flags_override_the_scenario(monkeypatch) -> None:
    cmd = captured_command(monkeypatch, ["run", "smoke", "-H", "http://h", "-u", "2", "--", "-x"])
    assert cmd[:3] == ["-f", str(ROOT / "locustfiles" / "scenario.py"), "--scenario"]
    assert cmd[3] == str(ROOT / "scenarios" / "smoke.yaml")
    assert " ".join(cmd[4:]) == "-H http://h -u 2 -r 4 -t 10s -x"


def test_run_refuses_without_target_or_with_a_late_scenario(capsys) -> None:
    assert cli.main(["run", "--headless"]) == 2
    assert "give -H URL" in capsys.readouterr().err
    assert cli.main(["run", "-H", "http://h", "mine.yaml"]) == 2
    assert "the scenario goes first: llm-load run mine.yaml" in capsys.readouterr().err
    assert cli.main(["run", "nope", "-H", "http://h"]) == 2
    assert "nor a bundled scenario" in capsys.readouterr().err


def test_init_copies_scenario_and_data_and_refuses_to_overwrite(tmp_path, capsys) -> None:
    args = argparse.Namespace(name="csv-prompts", dir=str(tmp_path / "here"), force=False)
    assert scenario_cli.init_scenario(args) == 0
    copy = tmp_path / "here" / "csv-prompts.yaml"
    data = tmp_path / "here" / "data" / "prompts_sample.csv"
    assert data.read_bytes() == (ROOT / "scenarios/data/prompts_sample.csv").read_bytes()
    assert len(load_scenario(copy).conversations) == 16  # the relative path works in the copy
    assert f"wrote {copy}" in capsys.readouterr().out
    assert scenario_cli.init_scenario(args) == 2
    assert "not overwriting" in capsys.readouterr().err
    args.force = True
    assert scenario_cli.init_scenario(args) == 0
    args.name = "nope"
    assert scenario_cli.init_scenario(args) == 2


@pytest.mark.parametrize("name", sorted(bundled.bundled_scenarios()))
def test_every_bundled_scenario_copied_by_init_loads_from_its_copy(tmp_path, name) -> None:
    """Its data files (prompts, dataset, trace, tool cases) come along, so the copy loads in
    a directory with nothing else in it."""
    args = argparse.Namespace(name=name, dir=str(tmp_path), force=False)
    assert scenario_cli.init_scenario(args) == 0
    load_scenario(tmp_path / f"{name}.yaml")


def test_scenarios_locustfile_and_version_commands(capsys) -> None:
    assert cli.main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(bundled.bundled_scenarios())
    assert any(line.startswith("tools ") and "tool cases" in line for line in lines)
    assert cli.main(["locustfile", "tools"]) == 0
    assert capsys.readouterr().out.strip() == str(ROOT / "locustfiles" / "tools.py")
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"llm-load {llm_load.__version__}\n"
