"""The server panel in reports: console lines, the one-line reading, HTML tables and charts."""

from __future__ import annotations

import io

from rich.console import Console

from llm_load.report.console import print_summary
from llm_load.report.html import render_html
from llm_load.report.server import server_charts, server_lines, server_note
from tests.unit.test_report_html import fixture


def base_summary() -> dict:
    return fixture("ramp-report")


def with_server() -> dict:
    s = base_summary()
    points = s["timeseries"]["points"]
    for i, point in enumerate(points):
        waiting = 0 if i < len(points) // 2 else 3
        point["users"] = 2 if waiting == 0 else 8
        point["ttft_ms"] = {"p50": 40.0, "p99": 60.0 if waiting == 0 else 400.0}
        server_ttft = {"count": 3, "p50": 9.0, "p99": 20.0 + 100 * waiting}
        point["server"] = {"running": 2, "waiting": waiting, "ttft_ms": server_ttft}
        point["server"]["kv_cache_usage"] = 0.1 * (i + 1)
    s["server"] = {
        "family": "vllm",
        "url": "http://127.0.0.1:8000/metrics",
        "samples": len(points) + 1,
        "series": {
            "running": {"mean": 2, "max": 2, "last": 2},
            "waiting": {"mean": 1.5, "max": 3, "last": 3},
            "kv_cache_usage": {"mean": 0.3, "max": 0.94, "last": 0.9},
        },
        "totals": {"generated_tokens": 1000.0, "ttft_ms": {"count": 10, "p50": 9.0, "p99": 300.0}},
        "scrape_errors": {"count": 0, "reasons": {}},
        "ttft_split": {
            "source": "histogram",
            "p50": {"client_ms": 40.0, "server_ms": 9.0, "outside_ms": 31.0},
            "p99": {"client_ms": 400.0, "server_ms": 300.0, "outside_ms": 100.0},
        },
    }
    return s


def test_console_prints_the_server_line_the_split_and_the_reading():
    out = io.StringIO()
    print_summary(with_server(), Console(file=out, width=200))
    text = out.getvalue()
    assert "server (vllm, " in text and "waiting max 3" in text and "generated 1,000" in text
    assert "TTFT split (histogram, ms): p50 client 40.0 / server 9.0, outside 31.0" in text
    assert "requests queue on the server" in text


def test_reading_names_the_user_count_where_the_queue_forms():
    note = server_note(with_server())
    assert note is not None and note.startswith("from 8 users requests queue")
    assert "TTFT p99 60 ms without a queue, 400 ms with one" in note


def test_html_has_the_server_panel_and_charts():
    s = with_server()
    page = render_html(s)
    assert '<section id="server">' in page and "requests queue on the server" in page
    ids = [c["id"] for c in server_charts(s)]
    assert ids == ["server-queue", "server-cache", "server-ttft"]
    assert all(f'id="chart-{cid}"' in page for cid in ids)


def test_no_server_block_no_panel():
    s = base_summary()
    assert server_lines(s) == [] and server_charts(s) == []
    assert '<section id="server">' not in render_html(s)
