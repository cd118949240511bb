"""`llm-load report` for real: HTML reports opened in headless Chromium (no console errors,
every chart drawn, screenshots in `artifacts/`), the server's queue lined up under the
saturation curve, a real run against the mock rendered end to end, and the console table in
a pipe (plain text, 100 columns).

Chromium is Debian's `/usr/bin/chromium`, driven from the command line as in
`tests/integration/test_webui.py` (whose helper fails on any console message of the page);
the browser tests skip when it is absent. Pages are opened from `file://`: a report must
need no network.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import clean_env, load, short_run
from tests.integration.test_webui import ARTIFACTS, chromium, needs_chromium

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "summaries"
MIX, RAMP = FIXTURES / "mix-run.json", FIXTURES / "ramp-report.json"
LLAMA = FIXTURES / "llamacpp-slots-ramp.json"  # a real 1 -> 6 users ramp, llama.cpp, 2 slots
TALL = "--window-size=1400,3400"


def llm_load(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "llm_load.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=clean_env())


def report(tmp_path: Path, *summaries: Path, name: str = "report.html") -> Path:
    out = tmp_path / name
    proc = llm_load("report", *map(str, summaries), "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def chart_ids(html: str) -> list[str]:
    match = re.search(r'<script type="application/json" id="llm-data">(.*?)</script>', html, re.S)
    return [c["id"] for c in json.loads(match.group(1))["charts"]] if match else []


def rendered(tmp_path: Path, page: Path) -> str:
    """The DOM after the page's scripts ran (fails on any console message)."""
    return chromium(tmp_path, page.as_uri(), "--dump-dom").stdout


def screenshot(tmp_path: Path, page: Path, name: str) -> Path:
    shot = ARTIFACTS / name
    shot.parent.mkdir(exist_ok=True)
    shot.unlink(missing_ok=True)
    chromium(tmp_path, page.as_uri(), TALL, f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return shot


def assert_every_chart_drawn(dom: str, ids: list[str]) -> None:
    drawn = re.findall(r'data-chart="([^"]+)"[^>]*data-rendered="true"', dom)
    drawn += re.findall(r'data-rendered="true"[^>]*data-chart="([^"]+)"', dom)
    assert sorted(drawn) == sorted(ids)
    assert dom.count("<canvas") == len(ids)  # uPlot draws each chart on one canvas
    assert len(re.findall(r'class="u-title"', dom)) == len(ids)


@needs_chromium
@pytest.mark.timeout(120)
def test_report_with_time_series_renders_every_chart(tmp_path):
    page = report(tmp_path, RAMP)
    ids = chart_ids(page.read_text())
    assert ids[0] == "saturation" and len(ids) == 9
    dom = rendered(tmp_path, page)
    assert_every_chart_drawn(dom, ids)
    assert "Saturation: output tokens/s and TTFT p99 vs active users" in dom
    assert "Throughput levels off at about 48 users" in dom
    screenshot(tmp_path, page, "report-ramp.png")


@needs_chromium
@pytest.mark.timeout(120)
def test_the_server_queue_is_drawn_under_the_saturation_curve_on_the_same_axes(tmp_path):
    """A real llama.cpp ramp (`--server-metrics`): the queue chart against users comes right
    after the saturation curve, its plot area exactly under the curve's, and the reading
    names the user count where llama.cpp starts deferring requests."""
    page = report(tmp_path, LLAMA, name="server.html")
    ids = chart_ids(page.read_text())
    assert ids[:4] == ["saturation", "server-users", "server-queue", "server-cache"]
    dom = rendered(tmp_path, page)
    assert_every_chart_drawn(dom, ids)
    reading = "from 3 users requests queue on the server (waiting &gt; 0, up to 4: "
    assert reading + "llamacpp:requests_deferred); 53 of 63 scrapes drawn" in dom
    assert "TTFT p99 81 ms without a queue, 629 ms with one" in dom
    plots = dict(re.findall(r'id="chart-([\w-]+)".*?class="u-over" style="([^"]+)"', dom, re.S))
    assert plots["saturation"] == plots["server-users"]  # same left, top, width and height
    screenshot(tmp_path, page, "report-server.png")


@needs_chromium
@pytest.mark.timeout(120)
def test_older_summary_and_comparison_pages_render(tmp_path):
    page = report(tmp_path, MIX, name="mix.html")
    ids = chart_ids(page.read_text())
    assert ids == ["dist-ttft_ms", "dist-itl_ms", "dist-e2e_ms"]
    assert_every_chart_drawn(rendered(tmp_path, page), ids)
    screenshot(tmp_path, page, "report-legacy.png")
    after = load(MIX)  # the same run, made slower and faster by hand
    slower = after["by_model"]["mock-llm"]["ttft_ms"]  # every TTFT twice as long
    for stat in ("mean", "p50", "p90", "p95", "p99", "max"):
        slower[stat] *= 2
    after["totals"]["output_tokens_per_s"] *= 1.2
    (tmp_path / "after.json").write_text(json.dumps(after))
    diff = report(tmp_path, MIX, tmp_path / "after.json", name="diff.html")
    dom = rendered(tmp_path, diff)
    assert "llm-load comparison" in dom and '<span class="badge worse">worse</span>' in dom
    assert '<span class="badge better">better</span>' in dom
    screenshot(tmp_path, diff, "report-compare.png")


@needs_chromium
@pytest.mark.timeout(180)
def test_a_real_run_against_the_mock_renders(tmp_path, summary_path):
    """Whatever the collector writes today (with or without a time series) renders cleanly."""
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "16") as mock:
        proc = short_run(mock.base_url, summary_path, "--model", "mock-llm", run_time="3s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = load(summary_path)
    page = report(tmp_path, summary_path)
    html = page.read_text()
    requests = f"{summary['by_model']['mock-llm']['requests']:,}"
    assert f"<td>mock-llm</td><td>{requests}</td>" in html
    assert_every_chart_drawn(rendered(tmp_path, page), chart_ids(html))
    screenshot(tmp_path, page, "report-real-run.png")


@pytest.mark.parametrize("columns", ["100", "200"])
def test_console_table_in_a_pipe_is_plain_and_100_columns(columns):
    """stdout is a pipe, as in CI logs: no colour codes even with TERM set; every line fits
    in 100 columns and no number or model id is broken over two lines."""
    cmd = [sys.executable, "-m", "llm_load.cli", "report", str(MIX)]
    env = clean_env(COLUMNS=columns, TERM="xterm-256color")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    row = next(line for line in lines if "mock-llm-slow" in line)
    assert " 44 " in row and "81.2/93.2/96.7" in row and "586/598/606" in row
    assert "error http_403 x25: Prompt blocked for security reasons" in lines
    assert "  FAIL  error_rate < 0.01  (observed 0.1289)" in lines


def test_bad_input_from_the_real_command_has_no_traceback(tmp_path):
    proc = llm_load("report", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        proc.stderr
        == f"llm-load report: {tmp_path / 'nope.json'}: cannot read: No such file or directory\n"
    )
