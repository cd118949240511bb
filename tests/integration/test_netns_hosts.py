"""Master, workers and the mock on separate simulated hosts, with latency, loss and partitions.

Each test builds its own network namespaces (`tests/integration/netns.py`, root only) on a
private bridge: `master`, `target` (the mock) and `worker0..`. Latency comes from
`delay_proxy.py` (no `tc netem` on this kernel), loss and partitions from nftables. Every case
compares the master's summary with the mock's truth (`GET /stats`, fetched inside `target`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from llm_load.mock.process import READY_PREFIX
from tests.conftest import CHAT_LOCUSTFILE, ROOT, load, nearest_rank
from tests.integration import netns
from tests.integration.netns import SimNet

pytestmark = [pytest.mark.netns, pytest.mark.timeout(150)]
MOCK_PORT, MASTER_PORT, PROXY_PORT = 8000, 5557, 6557
SCENARIO_LOCUSTFILE = ROOT / "locustfiles" / "scenario.py"
simnet = netns.simnet  # the fixture


def build(net: SimNet, workers: int, *mock_args: str) -> str:
    """Hosts master, target (the mock, started) and `workers` workers; the target's URL."""
    for name in ("master", "target", *(f"worker{i}" for i in range(workers))):
        net.add_host(name)
    net.start_ready("target", READY_PREFIX, sys.executable, "-m", "llm_load.mock",
                    "--host", "0.0.0.0", "--port", str(MOCK_PORT), *mock_args)  # fmt: skip
    return f"http://{net.hosts['target']}:{MOCK_PORT}"


def truth(net: SimNet) -> list[dict]:
    return net.get_json("target", f"http://127.0.0.1:{MOCK_PORT}/stats")["requests"]


def locust(net: SimNet, host: str, *args: str, locustfile: Path = CHAT_LOCUSTFILE, **kw):
    return net.popen(host, sys.executable, "-m", "locust", "-f", str(locustfile), *args, **kw)


def cluster(
    net: SimNet, tmp_path: Path, url: str, users: int, run_time: str, *extra: str,
    master_port: int = MASTER_PORT, locustfile: Path = CHAT_LOCUSTFILE,
) -> tuple[subprocess.Popen, list[subprocess.Popen]]:  # fmt: skip
    """A headless master in `master` and one worker per `worker*` host, connecting to
    `master:master_port` (the master itself on 5557, or a delay proxy in front of it)."""
    workers = [h for h in net.hosts if h.startswith("worker")]
    master = locust(
        net, "master", "--master", "--headless", "--expect-workers", str(len(workers)),
        "-u", str(users), "-r", str(users), "-t", run_time, "-H", url, "--model", "mock-llm",
        "--master-bind-host", "0.0.0.0", "--master-bind-port", str(MASTER_PORT),
        "--llm-json", str(tmp_path / "summary.json"), *extra, locustfile=locustfile,
    )  # fmt: skip
    address = net.hosts["master"]
    started = []
    for name in workers:
        log = (tmp_path / f"{name}.log").open("w")
        args = ("--worker", "--master-host", address, "--master-port", str(master_port))
        started.append(locust(net, name, *args, locustfile=locustfile, stdout=log, stderr=log))
    return master, started


def finish(master: subprocess.Popen, workers: list[subprocess.Popen]) -> tuple[str, str]:
    out, err = master.communicate(timeout=90)
    for worker in workers:
        worker.wait(timeout=30)
    return out, err


def wait_for_traffic(net: SimNet, limit_s: float = 40) -> None:
    deadline = time.monotonic() + limit_s
    while not truth(net):
        assert time.monotonic() < deadline, "no request reached the mock"
        time.sleep(0.5)


def note(case: str, s: dict, records: list[dict], **more: object) -> None:
    """One line of the fault matrix (summary vs truth), shown with `pytest -s`."""
    t = s["totals"]
    counts = {k: t[k] for k in ("requests", "cancelled", "failures")}
    line = {"case": case, **counts, "workers_lost": s.get("workers_lost"), "truth": len(records)}
    print("FAULT-MATRIX", json.dumps({**line, **more}))


def assert_exact(s: dict, records: list[dict]) -> dict:
    """requests + cancelled equal the mock's count, no failures; the totals returned."""
    t = s["totals"]
    assert t["requests"] + t["cancelled"] == len(records), (t, len(records))
    assert t["failures"] == 0, s["errors"]
    return t


def test_two_workers_on_their_own_hosts_merge_exactly(simnet, tmp_path):
    url = build(simnet, 2, "--ttft-ms", "40", "--itl-ms", "4", "--tokens", "24")
    rows = tmp_path / "rows.jsonl"
    master, workers = cluster(simnet, tmp_path, url, 8, "6s", "--llm-requests", str(rows))
    _, err = finish(master, workers)
    records = truth(simnet)
    assert master.returncode == 0, err[-3000:]
    s = load(tmp_path / "summary.json")
    note("none, 2 workers", s, records)
    t = assert_exact(s, records)
    assert s["workers_lost"] == 0
    true_p50 = nearest_rank([r["ttft_ms"] for r in records if r["completed"]], 50)
    assert abs(t["ttft_ms"]["p50"] - true_p50) < 3, (t["ttft_ms"], true_p50)
    per_worker = Counter(json.loads(line)["worker"] for line in rows.read_text().splitlines())
    assert len(per_worker) == 2 and sum(per_worker.values()) == len(records), per_worker


def test_latency_and_loss_on_the_master_links_keep_the_summary_exact(simnet, tmp_path):
    url = build(simnet, 2, "--ttft-ms", "30", "--itl-ms", "3", "--tokens", "16")
    # Every worker <-> master byte waits 40 ± 10 ms each way; 1 % of the master's packets
    # are dropped in each direction (TCP retransmits them).
    simnet.delay_proxy("master", f"0.0.0.0:{PROXY_PORT}", f"127.0.0.1:{MASTER_PORT}",
                       up_ms=40, down_ms=40, jitter_ms=10)  # fmt: skip
    simnet.loss("master", 1)
    master, workers = cluster(simnet, tmp_path, url, 8, "8s", master_port=PROXY_PORT)
    _, err = finish(master, workers)
    records = truth(simnet)
    assert master.returncode == 0, err[-3000:]
    s = load(tmp_path / "summary.json")
    note("40±10 ms + 1 % loss on master links", s, records)
    assert_exact(s, records)
    assert s["workers_lost"] == 0
    assert "sent no final report" not in err, err[-3000:]


def test_a_partitioned_worker_is_lost_then_heals_and_counts_once(simnet, tmp_path):
    url = build(simnet, 2, "--ttft-ms", "20", "--itl-ms", "2", "--tokens", "16")
    master, workers = cluster(simnet, tmp_path, url, 8, "30s")
    wait_for_traffic(simnet)
    time.sleep(2)
    simnet.partition("worker1", "master")  # ~4 s without heartbeats marks it missing
    time.sleep(10)
    simnet.heal("worker1")
    _, err = finish(master, workers)
    records = truth(simnet)
    assert master.returncode == 0, err[-3000:]
    assert "failed to send heartbeat" in err and "self-healed" in err, err[-3000:]
    s = load(tmp_path / "summary.json")
    note("worker partitioned 10 s, healed", s, records)
    assert s["workers_lost"] == 1  # reported, although it came back
    assert_exact(s, records)  # its reports held during the partition arrived, once


def test_a_worker_partitioned_until_the_end_is_lost_and_its_rest_missing(simnet, tmp_path):
    url = build(simnet, 2, "--ttft-ms", "20", "--itl-ms", "2", "--tokens", "16")
    master, workers = cluster(simnet, tmp_path, url, 8, "14s")
    wait_for_traffic(simnet)
    time.sleep(2)
    simnet.partition("worker1", "master")
    out, err = master.communicate(timeout=90)
    workers[1].kill()  # cut off, it never hears "quit": alone it would wait 60 s for heartbeats
    workers[0].wait(timeout=30)
    records = truth(simnet)
    assert master.returncode == 0, err[-3000:]
    s = load(tmp_path / "summary.json")
    note("worker partitioned until the end", s, records)
    t = s["totals"]
    assert s["workers_lost"] == 1 and "workers lost during the run: 1" in out
    # Its requests since its last report never arrive: missing, and said so by workers_lost.
    assert t["requests"] + t["cancelled"] < len(records) and t["failures"] == 0


def test_latency_on_the_worker_to_target_path_shows_in_ttft(simnet, tmp_path):
    build(simnet, 1, "--ttft-ms", "30", "--itl-ms", "3", "--tokens", "16")
    delay_ms = 60
    proxied = f"http://{simnet.hosts['target']}:{PROXY_PORT}"
    simnet.delay_proxy("target", f"0.0.0.0:{PROXY_PORT}", f"127.0.0.1:{MOCK_PORT}",
                       up_ms=delay_ms)  # fmt: skip
    summary = tmp_path / "summary.json"
    run = locust(simnet, "worker0", "--headless", "-u", "4", "-r", "4", "-t", "5s",
                 "-H", proxied, "--model", "mock-llm", "--llm-json", str(summary))  # fmt: skip
    _, err = run.communicate(timeout=60)
    records = truth(simnet)
    assert run.returncode == 0, err[-3000:]
    s = load(summary)
    t = assert_exact(s, records)
    done = [r for r in records if r["completed"]]
    shift = t["ttft_ms"]["p50"] - nearest_rank([r["ttft_ms"] for r in done], 50)
    note(f"+{delay_ms} ms worker→target", s, records, ttft_p50_shift_ms=round(shift, 1))
    assert delay_ms - 2 < shift < delay_ms + 15, (shift, t["ttft_ms"])
    e2e_shift = t["e2e_ms"]["p50"] - nearest_rank([r["e2e_ms"] for r in done], 50)
    assert delay_ms - 2 < e2e_shift < delay_ms + 15, (e2e_shift, t["e2e_ms"])


def open_loop_scenario(tmp_path: Path, rate: float) -> str:
    doc = {
        "name": "open",
        "models": [{"name": "mock-llm", "max_tokens": 8}],
        "prompts": {"inline": ["Say hi."]},
        "load": {"users": 8, "spawn_rate": 8, "rate": rate, "arrival": "constant"},
    }
    path = tmp_path / "open.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_a_lost_workers_share_of_the_rate_goes_to_the_others(simnet, tmp_path):
    rate = 30
    url = build(simnet, 2, "--ttft-ms", "20", "--itl-ms", "2", "--tokens", "8")
    path = open_loop_scenario(tmp_path, rate)
    master, workers = cluster(simnet, tmp_path, url, 8, "24s", "--scenario", path,
                              locustfile=SCENARIO_LOCUSTFILE)  # fmt: skip
    wait_for_traffic(simnet)
    time.sleep(3)
    workers[1].send_signal(signal.SIGKILL)
    killed_at = max(r["received_at"] for r in truth(simnet))
    _, err = finish(master, workers)
    records = truth(simnet)
    assert "failed to send heartbeat" in err, err[-3000:]
    s = load(tmp_path / "summary.json")
    assert s["workers_lost"] == 1
    end = max(r["received_at"] for r in records)
    # ~4 s until the heartbeat check gives up, 1 s until the master re-splits the rate.
    after = [r for r in records if killed_at + 7 <= r["received_at"] <= end - 1]
    assert len(after) == pytest.approx(rate * (end - 1 - killed_at - 7), rel=0.15)
    # The shortfall shows: the lost worker's share went unsent until the re-split, and what
    # it sent since its last report never reached the summary (workers_lost says why).
    a = s["arrivals"]
    note("open loop 30/s, worker killed", s, records, sent_per_s=round(a["sent_per_s"], 1),
         scheduled=a["scheduled"], intended=round(rate * s["duration_s"]))  # fmt: skip
    assert a["rate_per_s"] == rate and a["sent_per_s"] < 0.95 * rate, a
    assert s["totals"]["requests"] + s["totals"]["cancelled"] < len(records)


def rate_between(records: list[dict], start: float, end: float) -> float:
    """Requests per second the mock received between two of its own clock readings."""
    return sum(start <= r["received_at"] < end for r in records) / (end - start)


def test_open_loop_while_a_worker_is_cut_off_from_the_master(simnet, tmp_path):
    rate = 30
    url = build(simnet, 2, "--ttft-ms", "20", "--itl-ms", "2", "--tokens", "8")
    path = open_loop_scenario(tmp_path, rate)
    master, workers = cluster(simnet, tmp_path, url, 8, "30s", "--scenario", path,
                              locustfile=SCENARIO_LOCUSTFILE)  # fmt: skip
    wait_for_traffic(simnet)
    time.sleep(3)
    simnet.partition("worker1", "master")
    cut_at = max(r["received_at"] for r in truth(simnet))
    time.sleep(12)
    simnet.heal("worker1")
    healed_at = max(r["received_at"] for r in truth(simnet))
    _, err = finish(master, workers)
    records = truth(simnet)
    assert master.returncode == 0, err[-3000:]
    s = load(tmp_path / "summary.json")
    end = max(r["received_at"] for r in records)
    during = rate_between(records, cut_at + 6, healed_at)
    after = rate_between(records, healed_at + 8, end - 1)
    note("open loop 30/s, worker cut off 12 s", s, records, rate_cut_off=round(during, 1),
         rate_after=round(after, 1), sent_per_s=round(s["arrivals"]["sent_per_s"], 1))  # fmt: skip
    assert s["workers_lost"] == 1
    assert_exact(s, records)
    # The master gave the cut-off worker's share to the other; the cut-off worker, hearing
    # no heartbeat reply, paused its arrivals: the rate holds (not 1.5x), before and after.
    assert during == pytest.approx(rate, rel=0.15) and after == pytest.approx(rate, rel=0.15)
