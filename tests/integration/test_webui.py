"""The web UI's LLM tab: `/llm/summary`, `extended_stats` on `/stats/requests`, a real browser.

Locust runs with its web UI (`--autostart`) against the mock; the browser tests drive Debian's
headless Chromium from the command line (`--dump-dom`, `--screenshot`, console messages on
stderr) and skip when `/usr/bin/chromium` is absent. Screenshots go to `artifacts/`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.summary import build_summary
from llm_load.locust.webui import extended_stats
from llm_load.mock.process import spawn_mock
from tests.conftest import (
    CHAT_LOCUSTFILE,
    ROOT,
    TOOL_CASES,
    TOOLS_LOCUSTFILE,
    clean_env,
    load,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
SECRET = "sk-webui-SECRET-4711"
MOCK_ARGS = ("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "16", "--api-key", SECRET)
CHAT = "chat mock-llm"
# Never send requests to 127.0.0.1 through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's headless Chromium at /usr/bin/chromium (apt-get install chromium)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[str, dict[str, str]]:
    with _OPENER.open(url, timeout=10) as resp:
        return resp.read().decode(), dict(resp.headers)


def get_json(url: str) -> dict[str, Any]:
    return json.loads(get(url)[0])


class LoggedProcess:
    """A process serving a web UI, its output in `log`: `tail()` and `wait_until(check)`."""

    name = "process"
    log: Path
    proc: subprocess.Popen[bytes]

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_until(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """`check()`'s first truthy result; fails if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited early:\n{self.tail()}"
            try:
                if result := check():
                    return result
            except OSError:  # the web UI is not up yet
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n{self.tail()}")


class WebLocust(LoggedProcess):
    """`locust -f locustfiles/chat.py ARGS` with its web UI on 127.0.0.1, log in a file."""

    name = "locust"

    def __init__(self, tmp_path: Path, *args: str, locustfile: Path = CHAT_LOCUSTFILE) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = tmp_path / "locust.log"
        cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), *args]
        cmd += ["--web-host", "127.0.0.1", "--web-port", str(port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=clean_env()
            )

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def web_locust(
    tmp_path: Path, *args: str, locustfile: Path = CHAT_LOCUSTFILE
) -> Iterator[WebLocust]:
    locust = WebLocust(tmp_path, *args, locustfile=locustfile)
    try:
        yield locust
    finally:
        locust.close()


def autostart(mock_url: str, *args: str) -> tuple[str, ...]:
    """A run that starts at once with 4 users against the mock, with our API key."""
    return ("-H", mock_url, "--model", "mock-llm", "--api-key", SECRET, "--autostart",
            "-u", "4", "-r", "4", *args)  # fmt: skip


def chat_count(stats: dict[str, Any]) -> int:
    return next(s["num_requests"] for s in stats["stats"] if s["name"] == CHAT)


def llm_rows(stats: dict[str, Any]) -> list[dict[str, Any]]:
    return next(e["data"] for e in stats["extended_stats"] if e["key"] == "llm")


@pytest.mark.timeout(90)
def test_llm_summary_endpoint_follows_the_run_and_ends_equal_to_the_file(tmp_path):
    path = tmp_path / "summary.json"
    with (
        spawn_mock(*MOCK_ARGS) as mock,
        web_locust(
            tmp_path,
            *autostart(mock.base_url, "-t", "8s", "--autoquit", "5", "--llm-json", str(path)),
        ) as locust,
    ):
        summary = locust.wait_until(
            lambda: (s := get_json(locust.url + "/llm/summary"))["totals"]["requests"] > 0 and s,
            30,
            "LLM requests in /llm/summary",
        )
        assert list(summary["by_model"]) == ["mock-llm"] and summary["totals"]["failures"] == 0
        # /stats/requests is cached by Locust for up to 2 s: `before` may lag, `after` may not.
        before = get_json(locust.url + "/stats/requests")
        live, _ = get(locust.url + "/llm/summary")
        time.sleep(2.3)
        after_text, _ = get(locust.url + "/stats/requests")
        after = json.loads(after_text)
        requests = json.loads(live)["by_model"]["mock-llm"]["requests"]
        assert chat_count(before) <= requests <= chat_count(after), (before, live, after)
        rows = llm_rows(after)
        assert [r["model"] for r in rows] == ["mock-llm", "all models"]
        assert chat_count(before) <= rows[0]["requests"] == rows[1]["requests"]
        assert rows[0]["failures"] == 0 and 10 < rows[0]["ttft_p50"] < 200
        download, headers = get(locust.url + "/llm/summary?download=1")
        assert "filename=llm-summary.json" in headers["Content-Disposition"]
        for text in (live, after_text, download):
            assert SECRET not in text

        locust.wait_until(lambda: path.exists(), 30, "the summary file at test stop")
        final = get_json(locust.url + "/llm/summary")
        stopped = get_json(locust.url + "/stats/requests")
        assert final == load(path)
        assert final["totals"]["requests"] >= requests and stopped["state"] == "stopped"
        assert locust.proc.wait(30) == 0, locust.tail()


@pytest.mark.timeout(90)
def test_tool_accuracy_column_equals_the_mock_truth(tmp_path):
    """The web UI's "Tool calls correct %" for a graded tool run is the mock's injected truth."""
    mock_args = ("--ttft-ms", "10", "--itl-ms", "1", "--tokens", "8", "--tool-cases")
    with (
        spawn_mock(*mock_args, str(TOOL_CASES), "--tool-error-rate", "0.3") as mock,
        web_locust(
            tmp_path,
            *autostart(mock.base_url, "-t", "4s", "--autoquit", "5", "--stop-timeout", "10"),
            locustfile=TOOLS_LOCUSTFILE,
        ) as locust,
    ):
        locust.wait_until(
            lambda: get_json(locust.url + "/stats/requests")["state"] == "stopped", 40, "the stop"
        )
        time.sleep(2.3)  # past Locust's 2 s cache of /stats/requests
        rows = llm_rows(get_json(locust.url + "/stats/requests"))
        answers = [r["tool_answer"] for r in mock.stats()["requests"] if r.get("tool_answer")]
        assert locust.proc.wait(30) == 0, locust.tail()
    truth = round(100 * answers.count("correct") / len(answers), 1)
    assert len(answers) >= 50 and truth < 90  # graded first turns, some answered wrongly
    assert [r["tool_accuracy_pct"] for r in rows] == [truth, truth]


def test_extended_stats_rows_for_an_empty_run_and_errors():
    summary = build_summary(MetricsBook(), started_at=0.0, duration_s=0.0, target="", settings={})
    summary["errors"] = [{"kind": "http_500", "count": 3, "example": "boom"}]
    tables = {entry["key"]: entry["data"] for entry in extended_stats(summary)}
    (total,) = tables["llm"]
    assert total["model"] == "all models" and total["requests"] == 0
    assert total["ttft_p50"] == "-" and total["usage_estimated_pct"] == 0.0
    assert tables["llm-errors"] == [
        {"kind": "http_500", "count": 3, "example": "boom", "name": "00000"}
    ]


# -- a real browser -----------------------------------------------------------------------
class Tables(HTMLParser):
    """Every table of a page as lists of cell texts, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("")
        elif tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links[data.strip()] = self._href
        if self.tables and self.tables[-1] and self.tables[-1][-1]:
            self.tables[-1][-1][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on `url`; its stderr carries the page's console messages."""
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,900",
        "--enable-logging=stderr",
        "--log-level=0",
        "--virtual-time-budget=4000",
        *args,
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    # stderr does not tell levels apart: every message fails the test except Chromium's own
    # verbose "[DOM] ..." hints (e.g. autocomplete attributes on Locust's password field).
    console = [
        line for line in proc.stderr.splitlines() if ":CONSOLE" in line and '] "[DOM] ' not in line
    ]
    assert not console, f"console messages on {url}:\n" + "\n".join(console)
    return proc


def page(tmp_path: Path, url: str) -> Tables:
    parsed = Tables()
    parsed.feed(chromium(tmp_path, url, "--dump-dom").stdout)
    return parsed


@needs_chromium
@pytest.mark.timeout(120)
def test_llm_tab_in_a_real_browser(tmp_path):
    with (
        spawn_mock(*MOCK_ARGS) as mock,
        web_locust(tmp_path, *autostart(mock.base_url, "-t", "60s")) as locust,
    ):
        locust.wait_until(
            lambda: get_json(locust.url + "/llm/summary")["totals"]["requests"] >= 20,
            30,
            "LLM requests",
        )
        llm_tab = page(tmp_path, locust.url + "/?tab=llm")
        shot = ARTIFACTS / "webui-llm-tab.png"
        shot.parent.mkdir(exist_ok=True)
        shot.unlink(missing_ok=True)
        chromium(tmp_path, locust.url + "/?tab=llm", f"--screenshot={shot}")
        reports = page(tmp_path, locust.url + "/?tab=reports")
    (table,) = [t for t in llm_tab.tables if t and t[0] and t[0][0] == "Model (whole run)"]
    header, *rows = table
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert [c["Model (whole run)"] for c in cells] == ["mock-llm", "all models"]
    model = cells[0]
    assert int(model["Requests"]) >= 20 and model["Failures"] == "0"
    assert 10 < float(model["TTFT p50 ms"]) < 200 and 1 < float(model["TPOT p50 ms"]) < 50
    assert model["Usage estimated %"] == "0" and float(model["Output tok/s"]) > 0
    assert reports.links["Download LLM summary (llm-summary.json)"] == "./llm/summary?download=1"
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def idle_locust(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebLocust]:
    """Locust waiting in its start form (no test started), with an API key on the command line."""
    tmp_path = tmp_path_factory.mktemp("idle")
    args = ("-H", "http://127.0.0.1:9", "--model", "mock-llm", "--api-key", SECRET)
    with web_locust(tmp_path, *args) as locust:
        locust.wait_until(lambda: get(locust.url + "/")[0], 30, "the web UI")
        yield locust


@needs_chromium
@pytest.mark.timeout(90)
def test_start_form_shows_llm_options_with_a_masked_api_key(idle_locust, tmp_path):
    dom = chromium(tmp_path, idle_locust.url + "/", "--dump-dom").stdout
    inputs = {}

    class Inputs(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "input" and (a := dict(attrs)).get("name"):
                inputs[a["name"]] = a

    Inputs().feed(dom)
    assert inputs["apiKey"]["type"] == "password"
    assert inputs["model"]["value"] == "mock-llm" and inputs["maxTokens"]["value"] == "128"
    assert {"prompt", "temperature", "noStream", "requestTimeout"} <= set(inputs)
    assert "llmJson" not in inputs  # include_in_web_ui=False


@pytest.mark.timeout(60)
def test_start_page_does_not_contain_the_api_key(idle_locust):
    html, _ = get(idle_locust.url + "/")
    assert SECRET not in html
