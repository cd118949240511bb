"""deploy/kubernetes/ as written, on simulated hosts: the master and worker containers' args and
environment (from master.yaml and worker.yaml), the scenario and data from the ConfigMap, and
Service names resolved like a cluster's DNS (`llm-load-master`, `llm-load-mock`). Only the
paths move (the ConfigMap mount and the results volume become temporary directories) and the
run is shortened. The master autostarts once both workers are in, writes summary.json and
report.html when the run time ends and stays up (so `kubectl cp` can fetch them)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_load.mock.process import READY_PREFIX
from tests.conftest import ROOT, load
from tests.integration import netns
from tests.integration.netns import SimNet

pytestmark = [pytest.mark.netns, pytest.mark.timeout(150)]
DEPLOY = ROOT / "deploy" / "kubernetes"
simnet = netns.simnet  # the fixture
SHORTER = {"LOCUST_USERS": "8", "LOCUST_SPAWN_RATE": "8", "LOCUST_RUN_TIME": "6s"}


def manifest(name: str, kind: str) -> dict[str, Any]:
    docs = yaml.safe_load_all((DEPLOY / name).read_text(encoding="utf-8"))
    return next(d for d in docs if d["kind"] == kind)


def container_env(deployment: dict[str, Any], paths: dict[str, Path]) -> dict[str, str]:
    """The container's literal env values, with the pod's paths mapped to local ones (a
    secretKeyRef, optional in the manifest, stays unset: the mock needs no key)."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {}
    for item in container["env"]:
        value = item.get("value")
        if value is None:
            assert "secretKeyRef" in item["valueFrom"], item
            continue
        for pod_path, local in paths.items():
            if value.startswith(pod_path + "/"):
                value = str(local) + value[len(pod_path) :]
        env[item["name"]] = value
    return env


def start(net: SimNet, host: str, deployment: dict, env: dict, log: Path):
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    base = {k: v for k, v in netns.clean_env().items() if not k.startswith("LOCUST_")}
    out = log.open("w")
    cmd = (sys.executable, "-m", "locust", *container["args"])
    return net.popen(host, *cmd, env={**base, **env}, stdout=out, stderr=out)


def write_configmap(target: Path) -> None:
    data = manifest("configmap.yaml", "ConfigMap")["data"]
    volumes = manifest("master.yaml", "Deployment")["spec"]["template"]["spec"]["volumes"]
    items = next(v for v in volumes if "configMap" in v)["configMap"]["items"]
    for item in items:
        (target / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (target / item["path"]).write_text(data[item["key"]], encoding="utf-8")


def test_the_manifests_configuration_runs_across_hosts(simnet, tmp_path):
    for name in ("master", "target", "worker0", "worker1"):
        simnet.add_host(name)
    simnet.names({"llm-load-master": "master", "llm-load-mock": "target"})
    simnet.start_ready("target", READY_PREFIX, sys.executable, "-m", "llm_load.mock",
                       "--host", "0.0.0.0", "--port", "8000")  # fmt: skip
    scenario, results = tmp_path / "scenario", tmp_path / "results"
    write_configmap(scenario)
    paths = {"/scenario": scenario, "/work/results": results,
             "/opt/llm-load/locustfiles": ROOT / "locustfiles"}  # fmt: skip
    master_doc = manifest("master.yaml", "Deployment")
    worker_doc = manifest("worker.yaml", "Deployment")
    master = start(simnet, "master", master_doc, container_env(master_doc, paths) | SHORTER,
                   tmp_path / "master.log")  # fmt: skip
    workers = [
        start(
            simnet,
            f"worker{i}",
            worker_doc,
            container_env(worker_doc, paths),
            tmp_path / f"worker{i}.log",
        )
        for i in range(worker_doc["spec"]["replicas"])
    ]
    summary = results / "summary.json"
    deadline = time.monotonic() + 60
    while not (summary.exists() and (results / "report.html").exists()):
        assert time.monotonic() < deadline, (tmp_path / "master.log").read_text()[-3000:]
        assert master.poll() is None, (tmp_path / "master.log").read_text()[-3000:]
        time.sleep(0.5)
    assert master.poll() is None  # still up after the run: results can be copied out
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=60)
    for worker in workers:
        worker.wait(timeout=30)
    records = simnet.get_json("target", "http://127.0.0.1:8000/stats")["requests"]
    s = load(summary)
    t = s["totals"]
    assert t["requests"] + t["cancelled"] == len(records) > 0 and t["failures"] == 0, t
    assert s["workers_lost"] == 0 and s["passed"] is True
    assert s["settings"]["scenario"] == "cluster" and list(s["by_model"]) == ["mock-llm"]
