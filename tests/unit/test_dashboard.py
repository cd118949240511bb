"""dashboards/grafana-llm-load.json is a Grafana dashboard as Grafana imports it: valid JSON,
the dashboard's top-level fields, a Prometheus datasource variable, panels on the grid, and
every target a PromQL expression over our metric names."""

from __future__ import annotations

import json
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana-llm-load.json"


def test_dashboard_has_the_grafana_structure() -> None:
    d = json.loads(DASHBOARD.read_text())
    for key, kind in (("title", str), ("uid", str), ("schemaVersion", int), ("panels", list)):
        assert isinstance(d[key], kind), key
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "llm_load_requests_total" in variables["model"]["definition"]
    ids = [p["id"] for p in d["panels"]]
    assert len(set(ids)) == len(ids) >= 8
    for panel in d["panels"]:
        assert panel["type"] == "timeseries" and panel["datasource"]["uid"] == "${datasource}"
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs) >= 1
        for target in panel["targets"]:
            assert "llm_load_" in target["expr"], target


def test_dashboard_covers_the_issue_panels() -> None:
    exprs = " ".join(
        t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]
    )
    for name in ("ttft", "itl", "tpot", "e2e"):
        assert f"llm_load_{name}_seconds_bucket" in exprs
    for name in ("output_tokens_total", "good_requests_total", "errors_total", "users"):
        assert f"llm_load_{name}" in exprs
