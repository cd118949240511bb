"""Server metrics core: Prometheus text → snapshot → family → per-interval points and totals.

The texts are recorded from real servers (`tests/fixtures/metrics/*.txt`, see its README)
and from made-up scrapes whose true answer is known by construction.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_load.core.server import (
    ServerSeries,
    add_server_points,
    parse_snapshot,
    server_summary,
    server_times,
    split_line,
    ttft_split,
)
from llm_load.core.server.histogram import bucket_delta, quantile, quantile_bucket

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "metrics"


def vllm_text(running: int, waiting: int, generated: float, ttft_s: list[float]) -> str:
    """A vLLM-shaped scrape with two engines (label sets) and a TTFT histogram."""
    bounds = (0.01, 0.05, 0.1, 0.5)
    lines = ["# TYPE vllm:num_requests_running gauge", "# TYPE vllm:kv_cache_usage_perc gauge"]
    for engine in ("0", "1"):
        label = f'engine="{engine}",model_name="m"'
        lines += [
            f"vllm:num_requests_running{{{label}}} {running / 2}",
            f"vllm:num_requests_waiting{{{label}}} {waiting / 2}",
            f"vllm:kv_cache_usage_perc{{{label}}} {0.2 if engine == '0' else 0.4}",
            f"vllm:generation_tokens_total{{{label}}} {generated / 2}",
            f"vllm:generation_tokens_created{{{label}}} 1.7e9",
            f"vllm:prefix_cache_queries_total{{{label}}} {generated}",
            f"vllm:prefix_cache_hits_total{{{label}}} {generated / 4}",
        ]
    lines.append("# TYPE vllm:time_to_first_token_seconds histogram")
    for bound in bounds:
        count = sum(v <= bound for v in ttft_s)
        lines.append(f'vllm:time_to_first_token_seconds_bucket{{le="{bound}"}} {count}')
    lines.append(f'vllm:time_to_first_token_seconds_bucket{{le="+Inf"}} {len(ttft_s)}')
    lines.append(f"vllm:time_to_first_token_seconds_sum {sum(ttft_s)}")
    lines.append(f"vllm:time_to_first_token_seconds_count {len(ttft_s)}")
    return "\n".join(lines) + "\n"


def test_snapshot_sums_label_sets_and_drops_created():
    snap = parse_snapshot(vllm_text(4, 2, 100, [0.02]), t_s=5.0)
    assert snap.values["vllm:num_requests_running"] == 4
    assert snap.values["vllm:generation_tokens_total"] == 100
    assert snap.mean("vllm:kv_cache_usage_perc") == pytest.approx(0.3)
    assert "vllm:generation_tokens_created" not in snap.values
    assert snap.buckets["vllm:time_to_first_token_seconds"][-1] == (float("inf"), 1.0)


def test_unparseable_text_is_a_value_error():
    with pytest.raises(ValueError):
        parse_snapshot("vllm:x{le= 1\n", t_s=0.0)


def test_points_rates_and_deltas_are_the_truth_by_construction():
    series = ServerSeries()
    series.add(parse_snapshot(vllm_text(0, 0, 1000, [0.2] * 10), 100.0))
    series.add(parse_snapshot(vllm_text(4, 2, 1300, [0.2] * 10 + [0.02] * 6), 102.0))
    series.add(parse_snapshot(vllm_text(2, 0, 1400, [0.2] * 10 + [0.02] * 6 + [0.3] * 4), 103.0))
    first, second = series.points
    assert series.family is not None and series.family.name == "vllm"
    assert (first["running"], first["waiting"]) == (4, 2)
    assert first["generated_tokens_per_s"] == pytest.approx(150.0)
    assert first["prefix_cache_hit_rate"] == pytest.approx(0.25)
    # Only the interval's requests: 6 TTFTs of 20 ms (bucket 10-50 ms), then 4 of 300 ms.
    assert first["ttft_ms"]["count"] == 6 and 10 < first["ttft_ms"]["p50"] <= 50
    assert second["ttft_ms"]["count"] == 4 and 100 < second["ttft_ms"]["p99"] <= 500
    totals = series.totals()
    assert totals["generated_tokens"] == 400 and totals["ttft_ms"]["count"] == 10
    assert totals["ttft_ms"]["mean"] == pytest.approx((6 * 20 + 4 * 300) / 10)
    assert series.samples == 3


def test_counter_reset_counts_from_zero():
    series = ServerSeries()
    series.add(parse_snapshot(vllm_text(0, 0, 1000, []), 0.0))
    series.add(parse_snapshot(vllm_text(0, 0, 30, []), 1.0))  # the server restarted
    assert series.points[0]["generated_tokens_per_s"] == 30


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        ([(0.1, 0.0), (0.2, 10.0), (float("inf"), 10.0)], 0.5, 0.15),
        ([(0.1, 10.0), (float("inf"), 10.0)], 0.99, 0.099),
        ([(0.1, 0.0), (0.2, 0.0), (float("inf"), 4.0)], 0.5, 0.2),  # above the last bound
        ([(0.1, 0.0), (float("inf"), 0.0)], 0.5, None),
    ],
)
def test_quantile_interpolates_inside_its_bucket(buckets, q, expected):
    value = quantile(buckets, q)
    assert value == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        ([(0.1, 0.0), (0.2, 10.0), (float("inf"), 10.0)], 0.5, (0.1, 0.2)),
        ([(0.1, 10.0), (float("inf"), 10.0)], 0.99, (0.0, 0.1)),
        ([(0.1, 0.0), (0.2, 0.0), (float("inf"), 4.0)], 0.5, (0.2, 0.2)),
        ([(0.1, 0.0), (float("inf"), 0.0)], 0.5, None),
    ],
)
def test_quantile_bucket_is_the_bucket_its_value_lies_in(buckets, q, expected):
    assert quantile_bucket(buckets, q) == expected
    value = quantile(buckets, q)
    if expected is not None:
        assert expected[0] <= value <= expected[1]


def test_bucket_delta_is_the_interval():
    old = [(0.1, 2.0), (float("inf"), 3.0)]
    new = [(0.1, 5.0), (float("inf"), 9.0)]
    assert bucket_delta(new, old) == [(0.1, 3.0), (float("inf"), 6.0)]


def test_unknown_family_keeps_the_asked_for_raw_samples():
    text = "# TYPE my_queue gauge\nmy_queue 3\n# TYPE my_tokens counter\nmy_tokens_total 10\n"
    series = ServerSeries(wanted=("my_queue", "my_tokens_total"))
    series.add(parse_snapshot(text, 0.0))
    series.add(parse_snapshot(text.replace("10", "25").replace("3\n", "5\n"), 1.0))
    out = server_summary(series, "http://x/metrics", {"timeout": 2})
    assert out["family"] == "unknown" and "not recognised" in out["note"]
    assert out["raw"]["my_tokens_total"] == {"first": 10, "last": 25, "delta": 15, "max": 25}
    assert out["raw"]["my_queue"]["max"] == 5
    assert out["scrape_errors"] == {"count": 2, "reasons": {"timeout": 2}}
    assert series.points[0]["raw"] == {"my_queue": 5, "my_tokens_total": 25}


def test_server_points_land_in_the_timeseries_interval_they_end_in():
    timeseries = {"interval_s": 1.0, "points": [{"t_s": 1.0}, {"t_s": 2.0}, {"t_s": 2.5}]}
    add_server_points(timeseries, [{"t": 101.4, "running": 1}, {"t": 102.2, "running": 3}], 100.0)
    points = timeseries["points"]
    assert "server" not in points[0] and points[1]["server"] == {"running": 1}
    assert points[2]["server"] == {"running": 3}


def test_a_scrape_just_after_a_window_ends_closes_that_window():
    """The sampler scrapes 5 ms after each boundary (plus its round trip): that scrape's
    deltas cover the window just ended, so it goes with that point, not the next one."""
    timeseries = {"interval_s": 1.0, "points": [{"t_s": 1.0}, {"t_s": 2.0}, {"t_s": 3.0}]}
    scrapes = [{"t": 101.02, "waiting": 0}, {"t": 102.09, "waiting": 2}, {"t": 102.6, "waiting": 5}]
    add_server_points(timeseries, scrapes, 100.0)
    assert [p["server"]["waiting"] for p in timeseries["points"]] == [0, 2, 5]


def test_ttft_split_per_request_beats_the_histogram():
    totals = {
        "ttft_ms": {"count": 10, "p50": 40.0, "p99": 90.0},
        "server_ttft_ms": {"count": 10, "p50": 9.0, "p99": 30.0},
        "outside_ms": {"count": 10, "p50": 31.0, "p99": 70.0},
    }
    split = ttft_split(totals, {"totals": {"ttft_ms": {"p50": 12.0, "p99": 25.0}}})
    assert split is not None and split["source"] == "per-request"
    assert split["p50"] == {"client_ms": 40.0, "server_ms": 9.0, "outside_ms": 31.0}
    line = split_line(split)
    assert line is not None and "client 40.0 / server 9.0, outside 31.0" in line


def test_ttft_split_from_histograms_without_timings():
    totals = {"ttft_ms": {"count": 10, "p50": 40.0, "p99": 90.0}}
    split = ttft_split(totals, {"totals": {"ttft_ms": {"p50": 12.0, "p99": 25.0}}})
    assert split is not None and split["source"] == "histogram"
    assert split["p99"]["outside_ms"] == pytest.approx(65.0)
    assert ttft_split(totals, {"totals": {}}) is None


def test_ttft_split_from_a_histogram_bucket_never_goes_below_zero():
    """vLLM's TTFT buckets are coarse (40-60 ms): a true 41 ms reads 49.8 ms interpolated,
    above the client's own 41 ms; the outside time is then 0-1 ms, not -8.8 ms."""
    totals = {"ttft_ms": {"count": 10, "p50": 41.0, "p99": 120.0, "mean": 52.5}}
    server = {"totals": {"ttft_ms": {"p50": 49.8, "p50_bucket": [40.0, 60.0], "mean": 44.0,
                                     "p99": 90.0, "p99_bucket": [80.0, 100.0]}}}  # fmt: skip
    split = ttft_split(totals, server)
    # the means are exact on both sides (the histogram's _sum / _count)
    assert split is not None and split["mean"]["outside_ms"] == 8.5
    assert split is not None and split["source"] == "histogram"
    assert split["p50"]["outside_ms"] == 0.0 and split["p50"]["outside_max_ms"] == 1.0
    assert split["p99"]["outside_ms"] == 20.0 and split["p99"]["outside_max_ms"] == 40.0
    line = split_line(split)
    assert line is not None and "outside 0.0–1.0 (server histogram bucket 40–60)" in line
    assert "mean client 52.5 / server 44.0, outside 8.5" in line


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"prompt_ms": 12.5, "predicted_ms": 300.0, "cache_n": 3}, (12.5, None)),
        ({"time_to_first_token_ms": 10.25, "queue_time_ms": 700.5}, (710.75, 700.5)),
        ({"time_to_first_token_ms": 10.25}, (10.25, None)),
        (None, (None, None)),
        ({"prompt_ms": "x"}, (None, None)),
    ],
)
def test_server_times_of_llamacpp_and_vllm(extra, expected):
    assert server_times(extra) == expected


@pytest.mark.parametrize(
    ("fixture", "family"), [("vllm.txt", "vllm"), ("llamacpp.txt", "llamacpp")]
)
def test_recorded_real_scrapes_are_recognised(fixture, family):
    path = FIXTURES / fixture
    if not path.exists():
        pytest.skip(f"{path.name} not recorded")
    before, _, after = path.read_text().partition("\n# --- after the run ---\n")
    series = ServerSeries()
    series.add(parse_snapshot(before, 0.0))
    series.add(parse_snapshot(after, 10.0))
    assert series.family is not None and series.family.name == family
    point, totals = series.points[0], series.totals()
    assert {"running", "waiting"} <= set(point)
    assert totals["generated_tokens"] > 0 and totals["prompt_tokens"] > 0
    if family == "vllm":
        assert totals["ttft_ms"]["count"] > 0 and totals["ttft_ms"]["p50"] > 0
        assert "kv_cache_usage" in point and "queue_ms" in totals
