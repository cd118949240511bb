"""CSV prompt datasets (`prompts.file: x.csv`) and `llm-load validate`'s one-line summary.

CSV files are written byte for byte (BOM, CRLF, quoted multi-line cells) and read through
`load_scenario`, the way `llm-load validate` and a Locust run read them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from llm_load.core.scenario.prompt_files import read_prompt_file
from llm_load.core.scenario.schema import Scenario, ScenarioError, load_scenario
from llm_load.scenario_cli import validate_files

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "scenarios" / "data" / "prompts_sample.csv"


def scenario_with(tmp_path: Path, data: bytes | str, name: str = "prompts.csv") -> Path:
    """A scenario whose `prompts.file` is `data/<name>` holding `data` (bytes as given)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    target = tmp_path / "data" / name
    target.write_bytes(data if isinstance(data, bytes) else data.encode())
    path = tmp_path / "s.yaml"
    spec = {"name": "t", "models": [{"name": "a"}], "prompts": {"file": f"data/{name}"}}
    path.write_text(yaml.safe_dump(spec))
    return path


def conversations(tmp_path: Path, data: bytes | str, name: str = "prompts.csv") -> list:
    return load_scenario(scenario_with(tmp_path, data, name)).conversations


def error_of(tmp_path: Path, data: bytes | str, name: str = "prompts.csv") -> str:
    path = scenario_with(tmp_path, data, name)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def system(text: str) -> dict[str, str]:
    return {"role": "system", "content": text}


# -- reading ---------------------------------------------------------------------------------
def test_the_shipped_sample_reads_every_row_with_its_system_message() -> None:
    with SAMPLE.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    convs = read_prompt_file(ROOT / "scenarios" / "any.yaml", "data/prompts_sample.csv")
    assert 10 <= len(convs) == len(rows) <= 20
    for row, conv in zip(rows, convs, strict=True):
        expected = [system(row["system"])] if row["system"] else []
        assert conv == [*expected, user(row["prompt"])]
    contents = [conv[-1]["content"] for conv in convs]
    assert any("\n" in c for c in contents) and any('"' in c for c in contents)
    assert any("," in c for c in contents) and any("ö" in c for c in contents)
    assert sum(len(conv) == 2 for conv in convs) >= 4  # a system column that is used


def test_the_csv_example_scenario_uses_the_sample() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "csv-prompts.yaml")
    assert scenario.prompts is not None and scenario.prompts.file == "data/prompts_sample.csv"
    assert scenario.conversations == read_prompt_file(SAMPLE.parent / "x.yaml", SAMPLE.name)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param("prompt\nHello\n", [[user("Hello")]], id="only-a-prompt-column"),
        pytest.param(
            "\ufeffprompt,system\r\nHi,Be brief.\r\n",
            [[system("Be brief."), user("Hi")]],
            id="utf8-bom-and-crlf",
        ),
        pytest.param(' Prompt , SYSTEM \n"a, b",\n', [[user("a, b")]], id="header-case-and-spaces"),
        pytest.param(
            'prompt\n"line one\r\nline two"\n"say ""hi"""\n',
            [[user("line one\r\nline two")], [user('say "hi"')]],
            id="quoted-multi-line-and-quotes",
        ),
        pytest.param(
            "system,prompt,notes\n,Q1,x\n  ,Q2\nsys,Q3\n",
            [[user("Q1")], [user("Q2")], [system("sys"), user("Q3")]],
            id="blank-or-missing-system-cells",
        ),
        pytest.param("prompt\n\nA\n,\n\nB", [[user("A")], [user("B")]], id="blank-rows-skipped"),
        pytest.param(
            "id,model_family,prompt\n1,x,Go\n", [[user("Go")]], id="other-columns-ignored"
        ),
    ],
)
def test_csv_rows_become_conversations(tmp_path: Path, data: str, expected: list) -> None:
    assert conversations(tmp_path, data) == expected


def test_the_csv_suffix_is_case_insensitive_and_other_names_are_jsonl(tmp_path: Path) -> None:
    assert conversations(tmp_path, "prompt\nHi\n", "P.CSV") == [[user("Hi")]]
    assert conversations(tmp_path, '{"prompt": "Hi"}\n', "p.txt") == [[user("Hi")]]


def test_a_cell_longer_than_the_csv_default_limit_works_and_the_limit_is_restored(
    tmp_path: Path,
) -> None:
    before = csv.field_size_limit()
    long = "word " * 60_000  # 300,000 characters: a long-context prompt
    assert conversations(tmp_path, f'prompt\n"{long}"\n') == [[user(long)]]
    assert csv.field_size_limit() == before


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", ": empty; expected a header row naming a 'prompt' column", id="empty"),
        pytest.param(b"\xef\xbb\xbf", ": empty; expected a header row", id="only-a-bom"),
        pytest.param(b"prompt,system\n", " has no prompts", id="header-only"),
        pytest.param(b"prompt\n\n \n,\n", " has no prompts", id="blank-rows-only"),
        pytest.param(
            b"text,id\nHi,1\n",
            ":1: no 'prompt' column; expected a header row with 'prompt' and optionally "
            "'system' (got 'text', 'id')",
            id="no-prompt-column",
        ),
        pytest.param(
            b"Why is the sky blue?\n", ":1: no 'prompt' column", id="no-header-row-at-all"
        ),
        pytest.param(b"\nprompt\nHi\n", ":1: expected a header row", id="blank-first-row"),
        pytest.param(b"prompt,Prompt\na,b\n", ":1: column 'prompt': named twice", id="twice"),
        pytest.param(
            b"prompt,max_tokens\nHi,ten\n",
            ":1: column 'max_tokens': no per-prompt max_tokens; set it on the models entry",
            id="max-tokens-column",
        ),
        pytest.param(b"model,prompt\nm,Hi\n", ":1: column 'model': no per-prompt", id="model"),
        pytest.param(
            b'prompt,system\nok,\n"two\nlines",\n,sys only\n',
            ":4: column 'prompt': empty; every row needs a prompt",
            id="empty-prompt-row-4-after-a-multi-line-cell",
        ),
        pytest.param(
            b"prompt\nHello, world\n",
            ":2: 2 cells but the header names 1 columns (a comma in an unquoted cell? "
            "put the cell in double quotes)",
            id="unquoted-comma",
        ),
        pytest.param(
            b'prompt\nok\n"never closed\nmore\n',
            ":3: invalid CSV: unexpected end of data",
            id="unclosed-quote",
        ),
        pytest.param(
            b'prompt\n"quoted" then text\n', ":2: invalid CSV: ',' expected after '\"'", id="junk"
        ),
        pytest.param(
            b"prompt\nNa\xefve latin-1\n",
            ": not UTF-8 text (byte 9: invalid continuation byte); save it as UTF-8",
            id="not-utf8",
        ),
    ],
)
def test_bad_csv_files_name_file_row_and_column(tmp_path: Path, data: bytes, message: str) -> None:
    text = error_of(tmp_path, data)
    data_path = (tmp_path / "data" / "prompts.csv").resolve()
    assert text.startswith(f"{tmp_path / 's.yaml'}: prompts.file: {data_path}{message}"), text
    assert "\n" not in text


def test_a_missing_csv_file_is_named(tmp_path: Path) -> None:
    path = scenario_with(tmp_path, "prompt\nHi\n")
    (tmp_path / "data" / "prompts.csv").unlink()
    with pytest.raises(ScenarioError, match=r"prompts\.file: cannot read .*prompts\.csv"):
        load_scenario(path)


def test_a_non_utf8_jsonl_file_fails_clearly_too(tmp_path: Path) -> None:
    text = error_of(tmp_path, b'{"prompt": "Na\xefve"}\n', "p.jsonl")
    assert text.endswith(
        "p.jsonl: not UTF-8 text (byte 14: invalid continuation byte); save it as UTF-8"
    )


def test_validate_prints_the_csv_problem_and_exits_2(tmp_path: Path, capsys) -> None:
    path = scenario_with(tmp_path, "prompt,system\nfine,\n,lonely system\n")
    assert validate_files([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"INVALID: {path}\n") and "prompts.csv:3: column 'prompt': empty" in err


# -- validate's one-line summary ------------------------------------------------------------
def summary_of(load: dict, **more: object) -> str:
    data = {"name": "t", "models": [{"name": "a"}], "prompts": {"inline": ["x", "y"]}}
    return Scenario.model_validate({**data, "load": load, **more}).summary()


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        pytest.param(
            {"rate": 30, "users": 64, "run_time": "1m"},
            "open loop: 30 req/s poisson, max 64 in flight, run time 1m",
            id="open-rate",
        ),
        pytest.param(
            {"rate": 2.5, "arrival": "constant"},
            "open loop: 2.5 req/s constant, max 1 in flight, run time unbounded",
            id="open-constant",
        ),
        pytest.param(
            {
                "users": 16,
                "stages": [{"duration_s": 10, "rate": 5}, {"duration_s": 20, "rate": 40}],
            },
            "open loop: 5 -> 40 req/s poisson in 2 stages, max 16 in flight, run time 30s",
            id="open-stages",
        ),
        pytest.param({"users": 8}, "closed loop: 8 users, run time unbounded", id="closed"),
        pytest.param({"users": 1, "run_time": 90}, "closed loop: 1 user, run time 90s", id="one"),
        pytest.param(
            {"stages": [{"duration_s": 5, "users": n} for n in (1, 2, 4, 8, 16, 32, 64)]},
            "closed loop: 7 stages of 1 -> 2 -> 4 -> ... -> 64 users, run time 35s",
            id="closed-many-stages",
        ),
    ],
)
def test_summary_names_the_load_mode(load: dict, expected: str) -> None:
    assert summary_of(load) == f"1 model, inline prompts (2), {expected}"


def test_validate_prints_the_summary_of_a_csv_scenario(tmp_path: Path, capsys) -> None:
    path = scenario_with(tmp_path, "prompt\nA\nB\nC\n")
    assert validate_files([str(path)]) == 0
    assert capsys.readouterr().out == (
        f"OK: {path} (t: 1 model, file prompts (3), closed loop: 1 user, run time unbounded)\n"
    )
