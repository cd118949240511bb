"""docker-compose.yml: its shape (host networking everywhere, no secret in the file) and a real
run in containers — mock + master + 2 workers — whose merged summary matches the mock's truth.

The real run needs a Docker engine; when none answers it runs the shared
`setup-docker.sh` (root; installs docker.io + docker-compose, starts a host-networking-only
dockerd and builds the local base image `local/debian-python:bookworm`), or skips.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, clean_env, load, nearest_rank

pytestmark = pytest.mark.docker

COMPOSE_FILE = ROOT / "docker-compose.yml"
SETUP_SCRIPT = Path(__file__).resolve().parents[3] / "shared/containers/setup-docker.sh"
BASE_IMAGE = "local/debian-python:bookworm"
TEST_IMAGE = "llm-load:compose-test"
SERVICES = {"master", "worker", "mock"}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _docker_cli() -> str | None:
    """The docker.io CLI that setup-docker.sh installs, else whatever `docker` is on PATH."""
    return "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else shutil.which("docker")


def _run(cmd: list[str], timeout: float, env: dict[str, str] | None = None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _daemon_up() -> bool:
    docker = _docker_cli()
    try:
        return docker is not None and _run([docker, "version"], 15).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _engine_ready() -> bool:
    """docker-compose installed, a daemon answering and the local base image present."""
    if shutil.which("docker-compose") is None or not _daemon_up():
        return False
    return _run([str(_docker_cli()), "image", "inspect", BASE_IMAGE], 15).returncode == 0


@pytest.fixture(scope="module")
def docker_engine() -> Iterator[str]:
    """The docker CLI of a ready engine; a dockerd started here is stopped again afterwards."""
    started = False
    if not _engine_ready():
        if not SETUP_SCRIPT.is_file():
            pytest.skip(f"no Docker engine and no {SETUP_SCRIPT} to start one")
        if os.geteuid() != 0:
            pytest.skip(f"no Docker engine; {SETUP_SCRIPT.name} needs root")
        was_up, t0 = _daemon_up(), time.monotonic()
        try:
            proc = _run(["bash", str(SETUP_SCRIPT), "start"], 660)
        except subprocess.TimeoutExpired:
            pytest.skip(f"{SETUP_SCRIPT} start timed out")
        if proc.returncode != 0 or not _engine_ready():
            pytest.skip(f"{SETUP_SCRIPT} start failed:\n{proc.stderr[-2000:]}")
        started = not was_up
        print(f"setup-docker.sh start: {time.monotonic() - t0:.1f} s")
    yield str(_docker_cli())
    if started:
        _run(["bash", str(SETUP_SCRIPT), "stop"], 120)


def free_ports(n: int) -> list[int]:
    """`n` distinct free loopback ports (host networking: containers bind them on the host)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_json(url: str, timeout: float = 10) -> dict:
    with _NO_PROXY.open(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def test_compose_file_uses_host_networking_only(tmp_path):
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (../shared/containers/setup-docker.sh)")
    env_file = tmp_path / "empty.env"
    env_file.touch()
    cmd = ["docker-compose", "-f", str(COMPOSE_FILE), "--env-file", str(env_file)]
    proc = _run([*cmd, "--profile", "mock", "config"], 60, clean_env())
    assert proc.returncode == 0, proc.stderr
    services = yaml.safe_load(proc.stdout)["services"]
    assert set(services) == SERVICES
    for name, svc in services.items():
        assert svc["network_mode"] == "host", name
        assert svc["build"]["network"] == "host", name
        assert "ports" not in svc, name
    assert services["mock"]["profiles"] == ["mock"]
    master = services["master"]
    assert master["environment"]["LLM_LOAD_API_KEY"] is None  # passed through, never written
    assert master["environment"]["LOCUST_HEADLESS"] == "true"
    assert master["command"] == ["--master"] and services["worker"]["command"] == ["--worker"]
    assert any(v.endswith(":/work/scenarios:ro") for v in master["volumes"])


class Compose:
    """`docker-compose -p PROJECT -f docker-compose.yml --profile mock ...` with a fixed env."""

    def __init__(self, project: str, env: dict[str, str], env_file: Path) -> None:
        self.base = ["docker-compose", "-p", project, "-f", str(COMPOSE_FILE)]
        self.base += ["--env-file", str(env_file), "--profile", "mock"]
        self.env = env

    def __call__(self, *args: str, timeout: float = 120, check: bool = True):
        proc = _run([*self.base, *args], timeout, self.env)
        if check:
            assert proc.returncode == 0, f"{args}: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    def container(self, service: str) -> str:
        return self("ps", "-q", service).stdout.split()[0]


def wait_for_mock(url: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            http_json(url + "/stats", timeout=2)
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.3)


def run_env(tmp_path: Path) -> dict[str, str]:
    results = tmp_path / "results"
    results.mkdir()
    mock_port, master_port, web_port = free_ports(3)
    return clean_env(
        LLM_LOAD_IMAGE=TEST_IMAGE,
        LLM_LOAD_BASE_IMAGE=BASE_IMAGE,
        LLM_LOAD_RESULTS_DIR=str(results),
        LLM_LOAD_UID=str(os.getuid()),
        LLM_LOAD_GID=str(os.getgid()),
        LLM_LOAD_MOCK_PORT=str(mock_port),
        LLM_LOAD_MOCK_TTFT_MS="30",
        LLM_LOAD_MOCK_ITL_MS="2",
        LLM_LOAD_MOCK_TOKENS="16",
        LOCUST_HOST=f"http://127.0.0.1:{mock_port}",
        LOCUST_USERS="16",
        LOCUST_SPAWN_RATE="16",
        LOCUST_RUN_TIME="10s",
        LOCUST_EXPECT_WORKERS="2",
        LOCUST_EXPECT_WORKERS_MAX_WAIT="90",
        LOCUST_MASTER_BIND_PORT=str(master_port),
        LOCUST_MASTER_NODE_PORT=str(master_port),
        LOCUST_WEB_PORT=str(web_port),
        LLM_LOAD_MODEL="mock-llm",
        LLM_LOAD_MAX_TOKENS="16",
    )


@pytest.mark.timeout(900)
def test_compose_master_and_two_workers_match_the_mock_truth(docker_engine, tmp_path):
    env = run_env(tmp_path)
    (env_file := tmp_path / "empty.env").touch()  # ignore a developer's ./.env
    compose = Compose(f"llmloadtest{uuid.uuid4().hex[:10]}", env, env_file)
    mock_url = env["LOCUST_HOST"]
    timings: dict[str, float] = {}
    try:
        t0 = time.monotonic()
        compose("build", "master", timeout=600)
        timings["build"] = time.monotonic() - t0
        t0 = time.monotonic()
        compose("up", "-d", "--no-build", "mock")
        wait_for_mock(mock_url)
        compose("up", "-d", "--no-build", "--scale", "worker=2", "master", "worker")
        timings["up"] = time.monotonic() - t0
        master = compose.container("master")
        t0 = time.monotonic()
        code = _run([docker_engine, "wait", master], 240).stdout.strip()
        timings["run"] = time.monotonic() - t0
        truth = http_json(mock_url + "/stats")
        logs = compose("logs", "--no-color", "master").stdout
        workers = compose("ps", "-q", "worker").stdout.split()
        worker_codes = [_run([docker_engine, "wait", w], 60).stdout.strip() for w in workers]
    finally:
        t0 = time.monotonic()
        compose("down", "-v", "--remove-orphans", "--timeout", "10", timeout=180, check=False)
        timings["down"] = time.monotonic() - t0
        print("compose timings (s):", {k: round(v, 1) for k, v in timings.items()})
    assert code == "0", logs[-4000:]
    assert len(workers) == 2 and worker_codes == ["0", "0"], worker_codes
    assert "LLM summary written to /work/results/summary.json" in logs, logs[-4000:]
    totals = load(Path(env["LLM_LOAD_RESULTS_DIR"]) / "summary.json")["totals"]
    assert totals["requests"] + totals["cancelled"] == truth["count"] == len(truth["requests"])
    assert totals["failures"] == 0 and totals["requests"] > 0, totals
    done = [r for r in truth["requests"] if r["completed"]]
    true_p50 = nearest_rank([r["ttft_ms"] for r in done], 50)
    assert abs(totals["ttft_ms"]["p50"] - true_p50) < 3, (totals["ttft_ms"], true_p50)
