"""Two real short runs against the mock with identical settings compare as `same` on p99.

The two runs go side by side (same mock, same seconds), so that a busy machine slows both
alike: what is left between them is the sampling noise the p99 verdict must tolerate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_load.mock import spawn_mock
from llm_load.report.diff import compare
from tests.conftest import load, short_run

pytestmark = pytest.mark.timeout(180)
MOCK = ("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "8", "--jitter", "0.5")


def test_identical_runs_compare_as_same_on_every_p99(tmp_path):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    args = ("--model", "mock-llm", "--max-tokens", "8")
    with spawn_mock(*MOCK) as mock, ThreadPoolExecutor(2) as pool:
        procs = list(
            pool.map(lambda p: short_run(mock.base_url, p, *args, users=4, run_time="3s"), paths)
        )
    for proc in procs:
        assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = (load(p) for p in paths)
    rows = {r["metric"]: r for r in compare(a, b)["models"][0]["rows"]}
    for key in ("ttft_p99_ms", "itl_p99_ms", "e2e_p99_ms"):
        dist = key.replace("_p99", "")
        assert rows[key]["verdict"] == "same", (key, a["totals"][dist], b["totals"][dist])
        assert "intervals" in rows[key]  # judged by the runs' own sampling intervals
