"""deploy/kubernetes/: every manifest validates against the Kubernetes schemas (offline, with
`kubernetes-validate`), the LocustTest against the operator's documented CRD fields, and the
deployment keeps its promises: 5557 open to the worker pods only, the API key only from a
Secret, resources sized from ~200 streams per worker core, and a scenario that loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from llm_load.core.scenario.schema import load_scenario
from tests.conftest import ROOT

kubernetes_validate = pytest.importorskip("kubernetes_validate")

DEPLOY = ROOT / "deploy" / "kubernetes"
K8S_VERSION = "1.30"
STREAMS_PER_CORE = 200
KEY_ENVS = {"LLM_LOAD_API_KEY", "OPENAI_API_KEY"}
# The fields of the operator's CRD (locusttests.locust.io/v1) that the example may use.
RESOURCES = {"type": "object", "properties": {"requests": {"type": "object"},
             "limits": {"type": "object"}}, "additionalProperties": False}  # fmt: skip
ROLE = {"type": "object", "additionalProperties": False,
        "properties": {"labels": {"type": "object"}, "annotations": {"type": "object"},
                       "resources": RESOURCES}}  # fmt: skip
LOCUSTTEST_SPEC = {
    "type": "object",
    "required": ["workers"],
    "additionalProperties": False,
    "properties": {
        "image": {"type": "string"},
        "imagePullPolicy": {"enum": ["IfNotPresent", "Always", "Never"]},
        "imagePullSecrets": {"type": "array"},
        "workers": {"type": "integer", "minimum": 1},
        "args": {"type": "string"},
        "env": {"type": "array", "items": {"type": "object", "required": ["name"],
                "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}},
        "labels": {"type": "object"},
        "annotations": {"type": "object"},
        "master": ROLE,
        "worker": ROLE,
        "locustfile": {"type": "object"},
        "metrics": {"type": "object"},
    },
}  # fmt: skip


def documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                docs.append((str(path.relative_to(DEPLOY)), doc))
    return docs


def find(kind: str, name: str) -> dict[str, Any]:
    matches = [d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, (kind, name)
    return matches[0]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env(deployment: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container(deployment).get("env", [])}


def cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


@pytest.mark.parametrize("name, doc", documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_manifest_validates(name, doc):
    if doc["kind"] == "LocustTest":
        assert doc["apiVersion"] == "locust.io/v1"
        jsonschema.validate(doc["spec"], LOCUSTTEST_SPEC)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_only_worker_pods_may_reach_the_master_port():
    policy = find("NetworkPolicy", "llm-load-master")
    master_labels = find("Deployment", "llm-load-master")["spec"]["template"]["metadata"]["labels"]
    worker_labels = find("Deployment", "llm-load-worker")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"] == master_labels
    assert "Ingress" in policy["spec"]["policyTypes"]
    opening_5557 = [
        rule
        for rule in policy["spec"]["ingress"]
        if not rule.get("ports") or any(p["port"] in (5557, "workers") for p in rule["ports"])
    ]
    assert opening_5557, "no rule lets the workers in"
    for rule in opening_5557:
        assert rule["from"] == [{"podSelector": {"matchLabels": worker_labels}}], rule
    assert find("Service", "llm-load-master")["spec"]["type"] == "ClusterIP"


def test_the_api_key_comes_only_from_a_secret():
    for name, doc in documents():
        text = yaml.safe_dump(doc)
        assert "--api-key" not in text, name
        if doc["kind"] == "ConfigMap":
            assert not any("key" in k.lower() for k in doc["data"]), name
            assert "api_key" not in text and "api-key" not in text, name
        if doc["kind"] == "LocustTest":
            assert not KEY_ENVS & {e["name"] for e in doc["spec"].get("env", [])}, name
    master, worker = find("Deployment", "llm-load-master"), find("Deployment", "llm-load-worker")
    key = env(master)["LLM_LOAD_API_KEY"]
    assert "value" not in key and key["valueFrom"]["secretKeyRef"]["name"] == "llm-load-api-key"
    assert not KEY_ENVS & set(env(worker))  # workers get it from the master at test start
    assert all("secret" not in v for v in worker["spec"]["template"]["spec"].get("volumes", []))


def test_resources_are_sized_from_streams_per_core():
    master, worker = find("Deployment", "llm-load-master"), find("Deployment", "llm-load-worker")
    for deployment in (master, worker, find("Deployment", "llm-load-mock")):
        resources = container(deployment)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])
    res = container(worker)["resources"]
    worker_cores = cores(res["limits"]["cpu"])
    assert cores(res["requests"]["cpu"]) == worker_cores  # no throttling below the limit
    replicas = worker["spec"]["replicas"]
    users = int(env(master)["LOCUST_USERS"]["value"])
    assert int(env(master)["LOCUST_EXPECT_WORKERS"]["value"]) == replicas
    assert users <= STREAMS_PER_CORE * worker_cores * replicas
    spec = find("LocustTest", "llm-load")["spec"]
    operator_users = int(spec["args"].split("--users")[1].split()[0])
    operator_cores = cores(spec["worker"]["resources"]["limits"]["cpu"])
    assert operator_users <= STREAMS_PER_CORE * operator_cores * spec["workers"]


def test_the_configmap_scenario_loads_where_both_roles_mount_it(tmp_path):
    data = find("ConfigMap", "llm-load-scenario")["data"]
    master, worker = find("Deployment", "llm-load-master"), find("Deployment", "llm-load-worker")
    volumes = [d["spec"]["template"]["spec"]["volumes"] for d in (master, worker)]
    assert volumes[0][0] == volumes[1][0]  # the same files at the same path
    mount = container(master)["volumeMounts"][0]["mountPath"]
    assert container(worker)["volumeMounts"][0]["mountPath"] == mount
    for item in volumes[0][0]["configMap"]["items"]:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[item["key"]], encoding="utf-8")
    scenario_path = Path(env(master)["LLM_LOAD_SCENARIO"]["value"])
    assert scenario_path.parent == Path(mount)
    scenario = load_scenario(tmp_path / scenario_path.name)
    assert (tmp_path / scenario.prompts.file).is_file()
    assert scenario.load.users == int(env(master)["LOCUST_USERS"]["value"])
