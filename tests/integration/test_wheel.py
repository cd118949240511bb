"""The wheel as a pip user gets it: `python -m build` (sdist + wheel), `twine check`, installed
into a fresh venv outside the checkout, then used from an empty directory — a bundled scenario
by name, `llm-load run -H` with no scenario, `init` + `validate`, `locust -f "$(llm-load
locustfile chat)"` and the README's own locustfile — each run's counts against the mock's truth.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import llm_load
from llm_load.core.scenario.schema import load_scenario
from llm_load.mock.process import MockProcess, spawn_mock
from tests.conftest import ROOT, TOOL_CASES, clean_env, load
from tests.integration.fault_server import FaultServer, Request

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
MOCK = ("--ttft-ms", "20", "--itl-ms", "2")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def venv_bin(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the checkout) with the wheel and its dependencies installed."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    (wheel,) = dist.glob("*.whl")
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=900, env=clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "bin"


def sh(
    venv_bin: Path, cwd: Path, command: str, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`bash -c COMMAND` in `cwd` as a user of the venv: its bin first on PATH, no checkout."""
    path = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    env = clean_env(PATH=path, VIRTUAL_ENV=str(venv_bin.parent))
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def workdir(tmp_path: Path) -> Path:
    (empty := tmp_path / "work").mkdir(parents=True)
    return empty


def run_against_mock(
    venv_bin: Path,
    tmp_path: Path,
    command: str,
    *mock_args: str,
    files: dict[str, str] | None = None,
) -> tuple[dict, dict, Path]:
    """Run `command` (`{url}` = the mock's URL) in an empty directory (but for `files`);
    (summary, truth, the directory)."""
    cwd = workdir(tmp_path)
    for name, text in (files or {}).items():
        (cwd / name).write_text(text)
    with spawn_mock(*MOCK, *mock_args) as mock:
        proc = sh(venv_bin, cwd, command.format(url=mock.base_url) + " --llm-json s.json")
        truth = truth_of(mock)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = load(cwd / "s.json")
    totals = summary["totals"]
    assert totals["requests"] + totals["cancelled"] == truth["count"] > 0, (totals, truth["count"])
    assert totals["failures"] == 0 and totals["requests"] > 0, totals
    return summary, truth, cwd


def truth_of(mock: MockProcess) -> dict:
    truth = mock.stats()
    assert truth["count"] == len(truth["requests"])
    return truth


def test_dist_passes_twine_and_ships_data_not_tests(dist: Path) -> None:
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0 and check.stdout.count("PASSED") == 2, check.stdout
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"llm_load-{llm_load.__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "llm_load/locustfiles/chat.py", "llm_load/locustfiles/tools.py",
        "llm_load/locustfiles/scenario.py", "llm_load/scenarios/smoke.yaml",
        "llm_load/scenarios/data/tools_basic.jsonl", "llm_load/scenarios/data/prompts.jsonl",
        "llm_load/report/assets/report.js", "llm_load/report/vendor/uPlot.iife.min.js",
        "llm_load/__main__.py",
    ):  # fmt: skip
        assert shipped in names, shipped
    scenarios = {p.name for p in (ROOT / "scenarios").glob("*.yaml")}
    assert scenarios <= {Path(n).name for n in names if n.startswith("llm_load/scenarios/")}
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "llm_load/tests"))]


def test_installed_cli_runs_outside_the_checkout(venv_bin: Path, tmp_path: Path) -> None:
    cwd = workdir(tmp_path)
    where = sh(venv_bin, cwd, "python -c 'import llm_load; print(llm_load.__file__)'")
    assert where.returncode == 0 and str(ROOT) not in where.stdout, where.stdout
    assert "site-packages" in where.stdout
    for command in ("llm-load --version", "python -m llm_load --version"):
        proc = sh(venv_bin, cwd, command)
        assert proc.stdout.strip() == f"llm-load {llm_load.__version__}", proc.stderr
    listing = sh(venv_bin, cwd, "llm-load scenarios").stdout.splitlines()
    names = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    assert [line.split()[0] for line in listing] == names
    assert any(line.startswith("smoke ") and "4 users for 10 s" in line for line in listing)
    path = sh(venv_bin, cwd, "llm-load locustfile chat").stdout.strip()
    assert path.endswith("site-packages/llm_load/locustfiles/chat.py") and Path(path).is_file()


def test_bundled_smoke_by_name(venv_bin: Path, tmp_path: Path) -> None:
    command = "llm-load run smoke --headless -t 3s -H {url}"
    summary, _, _ = run_against_mock(venv_bin, tmp_path, command)
    assert summary["settings"]["scenario"] == "smoke" and summary["passed"]
    assert len(summary["thresholds"]) == 5


def test_bundled_scenario_reads_its_packaged_data(venv_bin: Path, tmp_path: Path) -> None:
    command = "llm-load run model-mix --headless -t 3s -u 4 -r 4 -H {url}"
    summary, truth, _ = run_against_mock(venv_bin, tmp_path, command)
    assert set(summary["by_model"]) == {"mock-llm", "mock-llm-slow"}
    assert {r["model"] for r in truth["requests"]} == {"mock-llm", "mock-llm-slow"}


def test_run_with_no_scenario(venv_bin: Path, tmp_path: Path) -> None:
    command = "llm-load run -H {url} --headless -t 3s -u 2 --max-tokens 8"
    summary, truth, _ = run_against_mock(venv_bin, tmp_path, command)
    assert list(summary["by_model"]) == ["mock-llm"]  # the first model the server lists
    assert {r["tokens"] for r in truth["requests"] if r["completed"]} == {8}


def test_init_then_validate_and_run_the_copy(venv_bin: Path, tmp_path: Path) -> None:
    cwd = workdir(tmp_path)
    proc = sh(venv_bin, cwd, "llm-load init smoke && llm-load validate smoke.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "OK: smoke.yaml (smoke: " in proc.stdout
    assert (cwd / "smoke.yaml").read_text() == (ROOT / "scenarios/smoke.yaml").read_text()
    again = sh(venv_bin, cwd, "llm-load init smoke")
    assert again.returncode == 2 and "not overwriting" in again.stderr
    # a copied scenario brings its data file, found relative to the copy
    command = "llm-load init csv-prompts && llm-load run csv-prompts.yaml --headless -t 3s -H {url}"
    summary, truth, cwd = run_against_mock(venv_bin, tmp_path / "csv", command)
    assert (cwd / "data/prompts_sample.csv").is_file()
    assert summary["settings"]["scenario"] == "csv-prompts"
    rows = load_scenario(ROOT / "scenarios/csv-prompts.yaml").conversations
    lengths = {sum(len(m["content"]) for m in messages) for messages in rows}
    sent = {r["prompt_chars"] for r in truth["requests"]}
    assert len(sent) > 1 and sent <= lengths, (sent, lengths)


def test_locust_with_the_shipped_chat_locustfile(venv_bin: Path, tmp_path: Path) -> None:
    command = 'locust -f "$(llm-load locustfile chat)" --headless -u 2 -r 2 -t 3s -H {url}'
    summary, _, _ = run_against_mock(venv_bin, tmp_path, command)
    assert list(summary["by_model"]) == ["mock-llm"]


def readme_locustfile() -> str:
    """The Python block of the README's "Your own locustfile" section."""
    section = (ROOT / "README.md").read_text().split("## Your own locustfile", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block in README 'Your own locustfile'"
    return match.group(1)


def test_readme_locustfile_subclassing_our_user(venv_bin: Path, tmp_path: Path) -> None:
    command = "locust -f mine.py --headless -u 2 -r 2 -t 3s -H {url}"
    summary, truth, _ = run_against_mock(
        venv_bin, tmp_path, command, "--tool-cases", str(TOOL_CASES),
        files={"mine.py": readme_locustfile()},
    )  # fmt: skip
    totals = summary["totals"]
    assert totals["tool_calls"]["expected"] > 0
    assert totals["tool_calls"]["accuracy"] == 1.0  # the mock answers every case correctly
    # the prompt builder's prompts reached the server: "Summarise ticket #N." (N < 1000)
    chats = [r for r in truth["requests"] if "tool_case" not in r and r["messages"] == 1]
    assert chats and {r["prompt_chars"] for r in chats} <= {20, 21, 22}


class HeaderServer(FaultServer):
    """The fault server's correct `ok` stream, keeping each chat request's headers."""

    def __init__(self) -> None:
        self.heads: list[dict[str, str]] = []
        super().__init__("ok", delay_s=0.01)

    def _dispatch(self, conn, req: Request) -> None:
        if req.method == "POST":
            self.heads.append(req.headers)
        super()._dispatch(conn, req)


def test_readme_locustfile_sends_its_custom_header(venv_bin: Path, tmp_path: Path) -> None:
    cwd = workdir(tmp_path)
    (cwd / "mine.py").write_text(readme_locustfile())
    with HeaderServer() as server:
        command = f"locust -f mine.py --headless -u 1 -r 1 -t 2s -H {server.base_url} --model m"
        proc = sh(venv_bin, cwd, command + " --api-key sk-test-0000 --llm-json s.json")
    assert proc.returncode == 0, proc.stderr[-3000:]  # text answers to tool cases are graded
    totals = load(cwd / "s.json")["totals"]
    # A request cancelled at the stop may or may not have reached the server.
    assert 0 < totals["requests"] <= len(server.heads) <= totals["requests"] + totals["cancelled"]
    assert totals["failures"] == 0 and totals["tool_calls"]["by_error"].get("no_call", 0) > 0
    assert {h.get("x-team") for h in server.heads} == {"search"}  # default_headers
    assert {h.get("authorization") for h in server.heads} == {"Bearer sk-test-0000"}
