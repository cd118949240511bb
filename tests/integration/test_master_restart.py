"""A master SIGKILLed mid-test: its workers are orphaned, and a new master on the same port does
not take them back (docs/failures.md, "Master restart")."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llm_load.mock.process import MockProcess, spawn_mock
from tests.conftest import CHAT_LOCUSTFILE, clean_env, load
from tests.integration.test_distributed import free_port

pytestmark = pytest.mark.timeout(120)
FAST = ("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "16")


class Cluster:
    """Locust processes logging to files in `tmp`, all killed at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.procs = tmp, {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "locust", "-f", str(CHAT_LOCUSTFILE), *args]
        with (self.tmp / f"{name}.log").open("w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
        self.procs[name] = proc
        return proc

    def master(self, name: str, host: str, port: int, run_time: str) -> subprocess.Popen:
        return self.start(
            name, "--master", "--headless", "-H", host, "--model", "mock-llm",
            "--expect-workers", "2", "--expect-workers-max-wait", "30", "-u", "8", "-r", "8",
            "-t", run_time, "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
            "--llm-json", str(self.tmp / f"{name}.json"),
        )  # fmt: skip

    def workers(self, prefix: str, port: int) -> list[subprocess.Popen]:
        args = ("--worker", "--master-host", "127.0.0.1", "--master-port", str(port))
        return [self.start(f"{prefix}{i}", *args) for i in range(2)]

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    procs = Cluster(tmp_path)
    try:
        yield procs
    finally:
        procs.kill_all()


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def total(mock: MockProcess) -> int:
    return mock.stats()["total"]


def kill_mid_test(cluster: Cluster, target: MockProcess) -> tuple[int, list]:
    """A master with two workers loading `target`, SIGKILLed once requests flow:
    (its port, its workers)."""
    port = free_port()
    master = cluster.master("master1", target.base_url, port, "60s")
    workers = cluster.workers("orphan", port)
    wait_until(lambda: total(target) > 50, 40)
    master.send_signal(signal.SIGKILL)
    master.wait(timeout=10)
    return port, workers


def test_a_new_master_on_the_same_port_runs_without_the_orphans(cluster):
    with spawn_mock(*FAST) as old_target, spawn_mock(*FAST) as new_target:
        port, orphans = kill_mid_test(cluster, old_target)
        killed_at = total(old_target)
        master2 = cluster.master("master2", new_target.base_url, port, "6s")
        fresh = cluster.workers("fresh", port)
        master2.wait(timeout=60)
        for worker in fresh:
            worker.wait(timeout=30)
        # the orphans never rejoined, and kept loading the old target all along
        assert [w.poll() for w in orphans] == [None, None]
        assert total(old_target) > killed_at + 100
        truth = total(new_target)
    log = cluster.log("master2")
    assert master2.returncode == 0, log[-3000:]
    assert "2 workers connected" in log and "3 workers connected" not in log
    # their reports reached the new master, which left them out of the run
    assert "Discarded report from unrecognized worker" in log
    t = load(cluster.tmp / "master2.json")["totals"]
    assert t["requests"] + t["cancelled"] == truth and t["failures"] == 0


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_orphaned_workers_quit_a_minute_after_the_master_died(cluster):
    with spawn_mock(*FAST) as target:
        _, orphans = kill_mid_test(cluster, target)
        killed = time.monotonic()
        for worker in orphans:
            worker.wait(timeout=100)
        waited = time.monotonic() - killed
    assert [w.returncode for w in orphans] == [0, 0]  # exit code 0: not a failure
    assert 55 < waited < 75, waited
    assert "Didn't get heartbeat from master in over 60s" in cluster.log("orphan0")
