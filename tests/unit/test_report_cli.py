"""`llm-load report` in-process: outputs, comparison, bad input (exit 2, one message, no
traceback). The real command in a pipe is tested in `tests/integration/test_report_html.py`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from llm_load.cli import main
from llm_load.report.html import render_html
from llm_load.report.markdown import render_markdown
from llm_load.report.table_csv import render_csv

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "summaries"
MIX, RAMP = FIXTURES / "mix-run.json", FIXTURES / "ramp-report.json"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_one_summary_to_html_csv_and_markdown_files(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--html", str(out / "r.html"), "--csv", str(out / "r.csv"), "--md", str(out / "r.md")]
    assert main(["report", str(RAMP), *args]) == 0
    summary = load(RAMP)
    assert (out / "r.html").read_text() == render_html(summary)
    assert (out / "r.md").read_text() == render_markdown(summary)
    assert (out / "r.csv").read_bytes() == render_csv(summary).encode()
    captured = capsys.readouterr()
    assert captured.out == "" and "html written to" in captured.err


def test_markdown_to_stdout(capsys):
    assert main(["report", str(MIX), "--md"]) == 0
    assert capsys.readouterr().out == render_markdown(load(MIX))
    assert main(["report", str(MIX), "--md", "-"]) == 0
    assert capsys.readouterr().out == render_markdown(load(MIX))


def test_two_summaries_compare(tmp_path, capsys):
    after = load(MIX)
    after["by_model"]["mock-llm"]["ttft_ms"]["p99"] *= 2
    b = tmp_path / "after.json"
    b.write_text(json.dumps(after))
    assert main(["report", str(MIX), str(b)]) == 0
    text = capsys.readouterr().out
    assert "TTFT p99" in text and "+100.0 %" in text and "worse" in text
    assert main(["report", str(MIX), str(b), "--csv", str(tmp_path / "d.csv"), "--noise", "0"]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "d.csv").read_text())))
    ttft = next(r for r in rows if r["model"] == "mock-llm" and r["metric"] == "ttft_p99_ms")
    assert ttft["verdict"] == "worse" and float(ttft["delta_pct"]) == pytest.approx(100.0)
    assert main(["report", str(MIX), str(b), "--noise", "1.5"]) == 0
    assert "0 worse" in capsys.readouterr().out


def bad_input(tmp_path: Path) -> list[tuple[list[str], str]]:
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "other.json").write_text(json.dumps({"schema": "something/else", "totals": {}}))
    (tmp_path / "list.json").write_text("[1, 2]")
    no_totals = {"schema": "llm-load/summary/v1", "by_model": {}}
    (tmp_path / "no-totals.json").write_text(json.dumps(no_totals))
    hollow = {"schema": "llm-load/summary/v1", "by_model": {}, "totals": {}}
    (tmp_path / "hollow.json").write_text(json.dumps(hollow))
    t = str(tmp_path)
    return [
        ([f"{t}/missing.json"], "missing.json: cannot read: No such file or directory"),
        ([f"{t}/broken.json"], "broken.json: not JSON"),
        ([f"{t}/other.json"], 'not an llm-load summary (expected "schema": "llm-load/summary/v1"'),
        ([f"{t}/list.json"], "got 'list'"),
        ([f"{t}/no-totals.json"], "'totals' missing or not an object"),
        ([f"{t}/hollow.json"], "hollow.json: malformed summary (KeyError('duration_s'))"),
        ([str(MIX), str(MIX), str(MIX)], "give one summary to report on, or two to compare"),
        ([str(MIX), str(RAMP), "--noise", "-1"], "--noise and --rate-noise must be >= 0"),
        ([str(MIX), "--md", str(MIX)], "that is an input file; not overwriting it"),
        ([str(MIX), "--html", t], "cannot write:"),
    ]


def test_bad_input_is_one_message_and_exit_2(tmp_path, capsys):
    before = MIX.read_bytes()
    for args, message in bad_input(tmp_path):
        assert main(["report", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("llm-load report: ") and message in err, (args, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    assert MIX.read_bytes() == before
