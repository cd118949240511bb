"""Threshold grammar and evaluation on a summary."""

import pytest

from llm_load.core.metrics.thresholds import ThresholdError, evaluate, parse_threshold


def summary():
    dist = {
        "count": 10,
        "mean": 40.0,
        "p50": 35.0,
        "p90": 60.0,
        "p95": 70.0,
        "p99": 90.0,
        "max": 99.0,
    }
    empty = {
        "count": 0,
        "mean": None,
        "p50": None,
        "p90": None,
        "p95": None,
        "p99": None,
        "max": None,
    }
    m = {
        "requests": 10,
        "error_rate": 0.1,
        "output_tokens_per_s": 1500.0,
        "ttft_ms": dist,
        "itl_ms": empty,
    }
    return {"totals": m, "by_model": {"org/model-1.5": {**m, "error_rate": 0.0}}}


@pytest.mark.parametrize(
    ("expr", "value", "ok"),
    [
        ("ttft_ms.p99 < 500", 90.0, True),
        ("ttft_ms.p99<=90", 90.0, True),
        ("ttft_ms.p50 > 35", 35.0, False),
        ("error_rate < 0.01", 0.1, False),
        ("error_rate@org/model-1.5 < 0.01", 0.0, True),
        ("output_tokens_per_s >= 1e3", 1500.0, True),
        ("requests == 10", 10.0, True),
        ("itl_ms.p95 < 50", None, False),  # no data fails
        ("ttft_ms.p99@unknown < 500", None, False),
    ],
)
def test_checks(expr, value, ok):
    result = parse_threshold(expr).check(summary())
    assert result == {"check": expr.strip(), "value": value, "ok": ok}


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("ttft_ms < 5", "needs one of"),
        ("error_rate.p99 < 5", "takes no .p99"),
        ("latency.p99 < 5", "unknown metric 'latency'"),
        ("ttft_ms.p99 << 5", "expected 'METRIC[.STAT][@MODEL] OP NUMBER'"),
        ("ttft_ms.p99 < fast", "expected"),
        ("", "expected"),
    ],
)
def test_errors_say_what_was_expected(expr, message):
    with pytest.raises(ThresholdError, match=message.replace(".", r"\.").replace("[", r"\[")):
        parse_threshold(expr)


def test_evaluate_sets_passed():
    s = evaluate([parse_threshold("ttft_ms.p99 < 500")], summary())
    assert s["passed"] and len(s["thresholds"]) == 1
    s = evaluate([parse_threshold("ttft_ms.p99 < 500"), parse_threshold("error_rate < 0.01")], s)
    assert not s["passed"]
    assert evaluate([], summary())["passed"]


@pytest.mark.parametrize(
    ("lost", "expr", "ok"),
    [
        (0, "workers_lost == 0", True),
        (1, "workers_lost == 0", False),
        (2, "workers_lost <= 1", False),
        (None, "workers_lost == 0", False),  # a summary without the field: no data
    ],
)
def test_workers_lost_is_a_number_of_the_whole_run(lost, expr, ok):
    s = summary() if lost is None else {**summary(), "workers_lost": lost}
    result = parse_threshold(expr).check(s)
    assert result == {"check": expr, "value": None if lost is None else float(lost), "ok": ok}


@pytest.mark.parametrize(
    ("expr", "message"),
    [("workers_lost@m < 1", "whole run, not @MODEL"), ("workers_lost.max < 1", "takes no .max")],
)
def test_workers_lost_takes_no_model_or_stat(expr, message):
    with pytest.raises(ThresholdError, match=message.replace(".", r"\.")):
        parse_threshold(expr)


def test_tool_error_buckets_are_thresholds() -> None:
    s = summary()
    tools = {"expected": 10, "correct": 7, "by_error": {"unknown_function": 2, "wrong_function": 1}}
    s["totals"]["tool_calls"] = tools
    checks = [
        "tool_errors.unknown_function == 0",
        "tool_errors.wrong_function <= 1",
        "tool_errors.missing_arg == 0",
        "tool_errors.wrong_function@org/model-1.5 == 0",
    ]
    result = evaluate([parse_threshold(c) for c in checks], s)["thresholds"]
    assert [(r["value"], r["ok"]) for r in result] == [
        (2, False),
        (1, True),
        (0, True),
        (None, False),
    ]
    with pytest.raises(ThresholdError, match=r"tool_errors needs one of \.no_call"):
        parse_threshold("tool_errors.hallucinated == 0")


def test_metric_names_with_digits_parse() -> None:
    """`e2e_ms` (a digit in the name) is a metric like the others."""
    threshold = parse_threshold("e2e_ms.p99@embed-llm < 500")
    assert (threshold.metric, threshold.stat, threshold.model) == ("e2e_ms", "p99", "embed-llm")
