"""The API key never reaches an artifact: files, console, logs or the web UI.

Each run greps every file it produced (`--llm-json`, `--llm-requests`, `--llm-html`,
Locust's `--csv` files, its `--html` report and `--logfile` at DEBUG level) and its stdout
and stderr for the key: once against the mock that accepts the key, once against a server
that rejects it with a 401 whose message repeats the key back (as some gateways do), and
once with the web UI, reading every page and download it offers.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import load, run_locust
from tests.integration.fault_server import FaultServer
from tests.integration.test_webui import get, get_json, web_locust

pytestmark = pytest.mark.timeout(120)

WEB_PAGES = (
    "/",
    "/stats/requests",
    "/stats/requests/csv",
    "/stats/failures/csv",
    "/exceptions",
    "/exceptions/csv",
    "/tasks",
    "/logs",
    "/stats/report",
    "/llm/summary",
    "/llm/summary?download=1",
)


def new_key() -> str:
    return f"sk-llmload-{secrets.token_hex(12)}"


def run_with_every_artifact(
    host: str, model: str, key: str, out: Path, *auth: str
) -> tuple[str, dict]:
    """A 2 s headless run writing every artifact into `out`; (all text produced, summary).
    `auth`: the flags that send the key (default `--api-key KEY`)."""
    out.mkdir()
    artifacts = (
        "--llm-json", str(out / "summary.json"), "--llm-requests", str(out / "rows.jsonl"),
        "--llm-html", str(out / "report.html"), "--csv", str(out / "locust"),
        "--html", str(out / "locust.html"), "--logfile", str(out / "locust.log"),
        "--loglevel", "DEBUG",
    )  # fmt: skip
    proc = run_locust(
        "-u", "2", "-r", "2", "-t", "2s", "-H", host, "--model", model,
        *(auth or ("--api-key", key)), *artifacts,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    files = sorted(p for p in out.iterdir() if p.is_file())
    names = {p.name for p in files}
    assert {"summary.json", "rows.jsonl", "report.html", "locust.html", "locust.log"} <= names
    assert {"locust_stats.csv", "locust_failures.csv"} <= names
    texts = [proc.stdout, proc.stderr, *(p.read_text(errors="replace") for p in files)]
    return "\n".join(texts), load(out / "summary.json")


def test_a_working_key_is_in_no_artifact(tmp_path):
    key = new_key()
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8", "--api-key", key) as mock:
        text, s = run_with_every_artifact(mock.base_url, "mock-llm", key, tmp_path / "run")
    assert s["totals"]["requests"] > 0 and s["totals"]["failures"] == 0  # the key was used
    assert s["settings"]["api_key"] == f"sk-…{key[-4:]}"
    assert key not in text


def test_a_key_echoed_back_by_the_server_is_redacted_everywhere(tmp_path):
    key = new_key()
    with FaultServer("echo_key") as server:
        text, s = run_with_every_artifact(server.base_url, "m", key, tmp_path / "run")
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    [error] = s["errors"]
    assert error["kind"] == "http_401"
    assert error["example"].startswith("Incorrect API key provided: [redacted].")
    assert "Incorrect API key provided: [redacted]." in text  # the message is still shown
    assert key not in text


def test_a_key_sent_as_a_header_is_in_no_artifact(tmp_path):
    key = new_key()
    auth = ("--header", f"Authorization: Bearer {key}", "--header", "X-Team: blue")
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8", "--api-key", key) as mock:
        text, s = run_with_every_artifact(mock.base_url, "mock-llm", key, tmp_path / "run", *auth)
    assert s["totals"]["requests"] > 0 and s["totals"]["failures"] == 0  # the header was sent
    shown = {"Authorization": f"Bearer sk-…{key[-4:]}", "X-Team": "blue"}
    assert s["settings"]["headers"] == shown
    assert key not in text


def test_a_secret_header_echoed_back_is_redacted(tmp_path):
    key = new_key()
    auth = ("--header", f"Authorization: Bearer {key}")
    with FaultServer("echo_key") as server:
        text, s = run_with_every_artifact(server.base_url, "m", key, tmp_path / "run", *auth)
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    assert s["errors"][0]["example"].startswith("Incorrect API key provided: [redacted].")
    assert key not in text


def test_the_web_ui_never_shows_the_key(tmp_path):
    key = new_key()
    args = ("--model", "m", "--api-key", key, "--autostart", "-u", "2", "-r", "2")
    with FaultServer("echo_key", delay_s=0.01) as server, web_locust(
        tmp_path, "-H", server.base_url, *args, "-t", "20s"
    ) as locust:  # fmt: skip
        locust.wait_until(
            lambda: get_json(locust.url + "/llm/summary")["errors"], 30, "401s in /llm/summary"
        )
        time.sleep(2.2)  # Locust caches /stats/requests for 2 s: let it show the failures
        pages = {page: get(locust.url + page)[0] for page in WEB_PAGES}
        log = locust.tail()
    assert "[redacted]" in pages["/llm/summary"] and "[redacted]" in pages["/stats/failures/csv"]
    for page, text in pages.items():
        assert key not in text, page
    assert key not in log
