"""The report's server panel on a real ramp: llama.cpp with 2 slots, 1 -> 2 -> 4 -> 6 users.

`llm-load run` with a stepped scenario, `--server-metrics` and `--html`: llama.cpp defers
requests (`llamacpp:requests_deferred`) once users exceed its slots, so the queue forms at
4 users, the first step above 2 slots, and the client's TTFT p99 is higher while it does.
The HTML report says so in its reading, right above the saturation curve and the queue chart
drawn under it. About 70 s: 40 s of stages, a server start and the last requests' finish.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import clean_env, load
from tests.real.servers_metrics import serve

pytestmark = [pytest.mark.real, pytest.mark.timeout(600)]

STAGES = [{"duration_s": 10, "users": n, "spawn_rate": n} for n in (1, 2, 4, 6)]


def ramp(host: str, tmp_path: Path) -> tuple[dict, str]:
    scenario = {
        "name": "slots-ramp",
        "target": {"host": host},
        "models": [{"name": "gemma-3-270m", "max_tokens": 8}],
        "prompts": {"inline": ["Write a haiku about load testing.", "Name three rivers."]},
        "load": {"stages": STAGES},
    }
    path, summary, html = (tmp_path / n for n in ("ramp.yaml", "summary.json", "report.html"))
    path.write_text(json.dumps(scenario))  # YAML reads JSON
    # Small replies and patient timeouts: on a busy 2-core machine llama.cpp can drop to a
    # few tokens/s, and a request deferred behind both slots sends no byte until it has one.
    cmd = [sys.executable, "-m", "llm_load.cli", "run", str(path), "--headless",
           "--server-metrics", "--stop-timeout", "300",
           "--request-timeout", "300", "--llm-json", str(summary), "--html", str(html)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=500, env=clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return load(summary), html.read_text()


def test_the_report_shows_the_queue_forming_where_ttft_rises(tmp_path):
    with serve("llama", slots=2) as server:
        summary, html = ramp(server.base_url, tmp_path)
    theirs = summary["server"]
    assert theirs["family"] == "llamacpp" and theirs["scrape_errors"]["count"] == 0
    assert theirs["series"]["running"]["max"] == 2 and theirs["series"]["waiting"]["max"] >= 2
    points = [p for p in summary["timeseries"]["points"] if "server" in p]
    seen = [(p["t_s"], p.get("users"), p["requests"], p["server"].get("waiting")) for p in points]
    assert all(p["server"]["waiting"] == 0 for p in points if p.get("users") == 1), seen
    saturation = html[html.index('<section id="saturation">') : html.index('<section id="server">')]
    reading = re.search(
        r"from (\d+) users requests queue on the server \(waiting &gt; 0, up to (\d+): "
        r"llamacpp:requests_deferred\);(?: \d+ of \d+ scrapes drawn [^;]*;)? "
        r"TTFT p99 ([\d,]+) ms without a queue, ([\d,]+) ms with one",
        saturation,
    )
    assert reading, (saturation[:2000], seen)
    print(f"\nllama.cpp ramp: {reading.group(0)}; split {theirs.get('ttft_split')}")
    onset, most, calm, busy = (int(g.replace(",", "")) for g in reading.groups())
    # More users than slots: from the first step above the 2 slots (4; 3 if users stopping
    # passed through 3 for two intervals).
    assert server.slots < onset <= 4 and most >= 2, seen
    assert busy > calm, seen
    queue_chart = 'data-chart="saturation"></div><div class="chart wide" id="chart-server-users"'
    assert queue_chart in saturation  # drawn right under the curve
