"""The server panel in reports: console lines, the one-line reading, HTML tables and charts
(the queue against users right under the saturation curve, on its x)."""

from __future__ import annotations

import io

from rich.console import Console

from llm_load.report.charts import chart_data
from llm_load.report.console import print_summary
from llm_load.report.html import render_html
from llm_load.report.server import server_lines, server_note
from llm_load.report.server_charts import server_charts
from tests.unit.test_report_html import Page, fixture


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
    assert ids == ["server-users", "server-queue", "server-cache", "server-ttft"]
    assert all(f'id="chart-{cid}"' in page for cid in ids)


def test_the_queue_against_users_sits_right_under_the_saturation_curve():
    s = with_server()
    html = render_html(s)
    order = [html.index(f'<section id="{sid}">') for sid in ("saturation", "server", "over-time")]
    assert order == sorted(order)
    saturation = html[order[0] : order[1]]  # the reading and the queue chart, under the curve
    assert saturation.index("requests queue on the server") < saturation.index('"chart-saturation"')
    assert 'data-chart="saturation"></div><div class="chart wide" id="chart-server-users"' in (
        saturation
    )
    assert html.count("requests queue on the server") == 1  # not repeated in the panel
    page = Page(html)
    assert page.chart_ids == [c["id"] for c in page.data()["charts"]]  # data in page order
    curve, queue = page.data()["charts"][:2]
    assert queue["id"] == "server-users" and queue["kind"] == "saturation"
    assert queue["x"] == curve["x"]  # one x: the queue reads under the TTFT it explains
    by_label = {series["label"]: series["values"] for series in queue["series"]}
    assert set(by_label["requests waiting"]) == {0, 3}
    assert [v for v in by_label["median waiting per user count"] if v is not None] == [0, 3]
    assert by_label["client TTFT p99"] == curve["series"][2]["values"]
    assert queue["series"][3]["color"] == curve["series"][2]["color"]


def test_llama_cpp_names_its_deferred_requests_and_a_stray_blip_is_not_the_onset():
    s = with_server()
    s["server"]["family"] = "llamacpp"
    points = s["timeseries"]["points"]
    points[0]["server"]["waiting"] = 1  # one scrape at 2 users caught a request between slots
    for p in points:
        del p["server"]["kv_cache_usage"]
    note = server_note(s)
    assert note == (
        "from 8 users requests queue on the server (waiting > 0, up to 3: "
        "llamacpp:requests_deferred); TTFT p99 60 ms without a queue, 400 ms with one."
    )


def test_counts_passed_through_while_users_stop_and_a_drained_queue_do_not_mislead():
    """A constant 8-user run: the last intervals, while users stop, pass through 5 and 3
    users with a queue, then none; requests finishing right after the queue drained waited
    in it (high TTFT), so they are not "without a queue"."""
    s = with_server()
    points = s["timeseries"]["points"]
    for p in points:
        p["users"], p["server"]["waiting"], p["ttft_ms"]["p99"] = 8, 3, 400.0
    for p, users, waiting in zip(points[-3:], (5, 3, None), (2, 0, 0), strict=True):
        p["users"], p["server"]["waiting"] = users, waiting
    points[-1]["ttft_ms"]["p99"] = 3000.0  # the last ones out waited longest
    points[-1]["e2e_ms"]["p99"] = 3100.0  # so they started while the queue was there
    note = server_note(s)
    assert note is not None and note.startswith("from 8 users requests queue")
    assert "without a queue" not in note  # no interval was free of the queue before it


def test_without_a_clear_onset_the_reading_says_how_often_and_from_when():
    s = with_server()
    for p in s["timeseries"]["points"]:
        p["users"] = 8  # one user count, queued in half of its intervals
    html = render_html(s)
    assert "server-users" not in [c["id"] for c in chart_data(s)["charts"] + server_charts(s)]
    server = html[html.index('<section id="server">') : html.index('<section id="over-time">')]
    points = s["timeseries"]["points"]
    first = next(p["t_s"] for p in points if p["server"]["waiting"])
    queued = sum(1 for p in points if p["server"]["waiting"])
    reading = (
        "requests queue on the server (waiting &gt; 0, up to 3: vllm:num_requests_waiting) "
        f"in {queued} of {len(points)} intervals, first at {first:g} s, 8 users;"
    )
    assert reading in server  # no saturation curve: the reading heads the server panel
    for p in points:
        del p["users"]
    assert f"intervals, first at {first:g} s; KV-cache" in server_note(s)


def test_no_server_block_no_panel():
    s = base_summary()
    assert server_lines(s) == [] and server_charts(s) == []
    assert '<section id="server">' not in render_html(s)


def test_scrapes_the_time_series_could_not_draw_are_said():
    """A starved client (vLLM's CPU engine on the same 2 cores) or a slow /metrics: fewer
    intervals than scrapes; a queue seen only between the drawn intervals is not hidden."""
    s = with_server()
    points = s["timeseries"]["points"]
    for p in points:
        p["server"]["waiting"] = 0
    s["server"]["samples"] = 2 * len(points)
    note = server_note(s)
    assert note is not None and note.startswith(
        f"no drawn interval shows a queue, but a scrape between them saw 3 waiting; "
        f"{len(points)} of {2 * len(points)} scrapes drawn"
    )
    s["server"]["samples"] = len(points) + 1  # the last scrape, at the stop: not worth a word
    assert "scrapes drawn" not in (server_note(s) or "")
