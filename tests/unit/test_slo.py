"""Per-request SLOs and goodput: parsing, judging, exact merge, summary, thresholds, reports."""

from __future__ import annotations

from locust.argument_parser import get_parser

import io
import random
from types import SimpleNamespace

import pytest
import yaml
from rich.console import Console

from llm_load.core.metrics.book import MetricsBook, ModelMetrics
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.request_log import request_row
from llm_load.core.metrics.slo import SLO, SLOError, SLOLimits, describe_slo, parse_slo
from llm_load.core.metrics.summary import build_summary
from llm_load.core.metrics.thresholds import ThresholdError, evaluate, parse_threshold
from llm_load.core.scenario.schema import ScenarioError, load_scenario
from llm_load.locust.options import add_arguments
from llm_load.locust.settings import resolve_settings
from llm_load.locust.webui import model_row
from llm_load.report.console import print_summary
from llm_load.report.markdown import render_markdown
from llm_load.report.table_csv import render_csv


def rec(
    ttft: float | None = 0.1,
    gaps: tuple[float, ...] = (0.01, 0.01),
    model: str = "m",
    **fields,
) -> RequestRecord:
    """A streamed call: first token at `ttft` s, then one token after each gap, 10 ms tail."""
    times: list[float] = []
    if ttft is not None:
        times = [ttft]
        for gap in gaps:
            times.append(times[-1] + gap)
    e2e = (times[-1] if times else 0.5) + 0.01
    base = {"output_tokens": max(1, len(times)), "e2e_s": e2e}
    return RequestRecord(
        model=model, started_at=1000.0, ttft_s=times[0] if times else None,
        token_times_s=tuple(times), **{**base, **fields},
    )  # fmt: skip


# -- parsing -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("ttft_ms<=500", ("ttft_ms", 500.0)),
        ("  itl_ms <= 12.5 ", ("itl_ms", 12.5)),
        ("tpot_ms <= 50ms", ("tpot_ms", 50.0)),
        ("e2e_ms <= 1e4", ("e2e_ms", 10000.0)),
        ("ttfo_ms <= 2000", ("ttfo_ms", 2000.0)),
    ],
)
def test_parse(text, parsed):
    assert parse_slo(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ttft <= 500", "did you mean 'ttft_ms'"),
        ("ttft_ms.p99 <= 500", "did you mean 'ttft_ms'"),
        ("ttft_ms < 500", "upper limit, write 'ttft_ms <= 500'"),
        ("ttft_ms=500", "upper limit"),
        ("ttft_ms >= 500", "upper limit"),
        ("ttft_ms <= 0", "must be > 0"),
        ("ttft_ms <= -3", "must be > 0"),
        ("ttft_ms", "expected 'METRIC <= MS'"),
        ("ttft_ms <= fast", "expected 'METRIC <= MS'"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(SLOError, match="SLO") as info:
        parse_slo(text)
    assert message in str(info.value)


def test_of_keeps_metric_order_and_the_last_limit_and_merges_per_metric():
    slo = SLO.of("e2e_ms <= 900", "ttft_ms <= 500", "ttft_ms <= 300")
    assert slo.limits == (("ttft_ms", 300.0), ("e2e_ms", 900.0))
    scenario = SLOLimits(ttft_ms=100, tpot_ms=20).to_slo()
    assert scenario.merged(slo).as_dict() == {"ttft_ms": 300.0, "tpot_ms": 20.0, "e2e_ms": 900.0}
    assert describe_slo(slo.as_dict()) == "TTFT ≤ 300 ms, E2E ≤ 900 ms"
    assert describe_slo({"tpot_ms": 12.5}, "<=") == "TPOT <= 12.5 ms"


# -- judging -------------------------------------------------------------------------------
def test_each_limit_is_inclusive_and_every_limit_must_hold():
    r = rec(ttft=0.2, gaps=(0.01, 0.03))  # TTFT 200, mean ITL 20, TPOT (250-200)/2 = 25
    assert r.itl_ms_mean == pytest.approx(20.0)
    assert SLO.of("ttft_ms <= 200").met(r)
    assert not SLO.of("ttft_ms <= 199.9").met(r)
    assert SLO.of("itl_ms <= 20.001").met(r)  # the mean gap, not the 30 ms one
    assert not SLO.of("itl_ms <= 19.9").met(r)
    assert SLO.of("tpot_ms <= 25.001", "e2e_ms <= 250.001").met(r)
    assert not SLO.of("ttft_ms <= 500", "tpot_ms <= 24").met(r)


def test_failed_and_cancelled_calls_are_never_good():
    slo = SLO.of("ttft_ms <= 500")
    assert not slo.met(rec(error_kind="http_500", error_message="boom"))
    assert not slo.met(rec(cancelled=True))


def test_metrics_a_call_does_not_have_are_not_judged():
    slo = SLO.of("itl_ms <= 1", "tpot_ms <= 1", "ttft_ms <= 500")
    one_token = rec(ttft=0.1, gaps=())  # no ITL, no TPOT
    assert one_token.itl_ms_mean is None and one_token.tpot_ms is None
    assert slo.met(one_token)
    assert not slo.met(rec(ttft=0.6, gaps=()))  # but the TTFT it has still counts
    not_streamed = rec(ttft=None, output_tokens=40, e2e_s=2.0)  # no TTFT, ITL or TPOT
    assert SLO.of("ttft_ms <= 1").met(not_streamed)
    assert not SLO.of("ttft_ms <= 1", "e2e_ms <= 1000").met(not_streamed)


def test_ttfo_limit_judges_the_first_answer_token_after_reasoning():
    thought = rec(ttft=0.05, gaps=(0.1, 0.1), ttfo_s=0.25)  # reasoned 200 ms, answered at 250
    assert thought.ttfo_ms == pytest.approx(250.0)
    assert SLO.of("ttft_ms <= 100", "ttfo_ms <= 250.001").met(thought)
    assert not SLO.of("ttft_ms <= 100", "ttfo_ms <= 240").met(thought)
    only_reasoned = rec(ttft=0.05, gaps=(0.1,))  # cut inside the reasoning: no TTFO
    assert SLO.of("ttfo_ms <= 1").met(only_reasoned)
    limits = SLOLimits(ttfo_ms=300).to_slo().merged(SLO.of("ttft_ms <= 50"))
    assert limits.as_dict() == {"ttft_ms": 50.0, "ttfo_ms": 300.0}
    assert describe_slo({"ttfo_ms": 300.0}) == "TTFO ≤ 300 ms"


# -- counting ------------------------------------------------------------------------------
def book_with(slo: SLO | None, records: list[RequestRecord]) -> MetricsBook:
    book = MetricsBook(slo=slo)
    for r in records:
        book.add(r)
    return book


def mixed_records() -> list[RequestRecord]:
    return [
        rec(ttft=0.1, output_tokens=10),  # good
        rec(ttft=0.1, output_tokens=20, model="b"),  # good
        rec(ttft=0.3, output_tokens=30),  # too slow
        rec(ttft=0.1, output_tokens=5, error_kind="http_500", error_message="x"),  # failed
        rec(ttft=0.1, output_tokens=7, cancelled=True),  # cancelled: not a request
    ]


def test_summary_goodput_counts_successes_within_the_slo_over_all_requests():
    book = book_with(SLO.of("ttft_ms <= 200"), mixed_records())
    summary = build_summary(book, started_at=1000.0, duration_s=2.0, target="t", settings={})
    totals = summary["totals"]
    assert (totals["requests"], totals["failures"], totals["cancelled"]) == (4, 1, 1)
    assert totals["goodput"] == {
        "slo": {"ttft_ms": 200.0},
        "good": 2,
        "ratio": 0.5,  # good / requests, failures included, cancelled not
        "requests_per_s": 1.0,
        "output_tokens_per_s": 15.0,  # (10 + 20) / 2 s
    }
    assert summary["by_model"]["m"]["goodput"]["ratio"] == pytest.approx(1 / 3)
    assert summary["by_model"]["b"]["goodput"]["good"] == 1
    assert [p["good"] for p in summary["timeseries"]["points"]] == [2]


def test_no_slo_no_goodput_and_no_requests_no_ratio():
    plain = build_summary(book_with(None, mixed_records()), started_at=1000.0, duration_s=2.0,
                          target="t", settings={})  # fmt: skip
    assert "goodput" not in plain["totals"] and "goodput" not in plain["by_model"]["m"]
    assert all("good" not in p for p in plain["timeseries"]["points"])
    empty = ModelMetrics().summary(1.0, SLO.of("ttft_ms <= 1"))
    assert empty["goodput"]["ratio"] is None and empty["goodput"]["good"] == 0


def test_worker_books_merge_to_the_whole_book_exactly():
    rng = random.Random(5)
    records = [
        rec(ttft=rng.uniform(0.05, 0.4), gaps=tuple(rng.uniform(0.001, 0.05) for _ in range(3)),
            model=rng.choice("ab"), output_tokens=rng.randint(1, 9),
            error_kind=rng.choice([None, None, None, "http_500"]), cancelled=rng.random() < 0.1)
        for _ in range(300)
    ]  # fmt: skip
    slo = SLO.of("ttft_ms <= 250", "itl_ms <= 30")
    whole = book_with(slo, records)
    master = MetricsBook(slo=slo)
    for part in range(3):
        worker = book_with(slo, records[part::3])
        master.merge(MetricsBook.from_dict(worker.to_dict()))  # the wire format
    for name in ("a", "b"):
        a, b = whole.by_model[name], master.by_model[name]
        assert (a.good, a.good_output_tokens) == (b.good, b.good_output_tokens)
        assert 0 < a.good < a.requests
    args = {"started_at": 1000.0, "duration_s": 10.0, "target": "t", "settings": {}}
    a, b = build_summary(whole, **args), build_summary(master, **args)
    assert a["totals"]["goodput"] == b["totals"]["goodput"]
    assert a["by_model"]["a"]["goodput"] == b["by_model"]["a"]["goodput"]
    good = [[p["good"] for p in s["timeseries"]["points"]] for s in (a, b)]
    assert good[0] == good[1] and sum(good[0]) == a["totals"]["goodput"]["good"]


def test_old_wire_dicts_without_goodput_counters_load_as_zero():
    data = book_with(None, mixed_records()).to_dict()
    for model in data["by_model"].values():
        del model["good"], model["good_output_tokens"]
    for window in data["series"]["windows"].values():
        del window["good"]
    book = MetricsBook.from_dict(data)
    assert book.by_model["m"].good == 0 and book.by_model["m"].requests == 3


def test_reset_keeps_the_slo():
    book = book_with(SLO.of("ttft_ms <= 200"), mixed_records())
    book.reset()
    assert book.slo == SLO.of("ttft_ms <= 200") and book.empty


# -- thresholds ----------------------------------------------------------------------------
def goodput_summary() -> dict:
    book = book_with(SLO.of("ttft_ms <= 200"), mixed_records())
    return build_summary(book, started_at=1000.0, duration_s=2.0, target="t", settings={})


@pytest.mark.parametrize(
    ("expr", "value", "ok"),
    [
        ("goodput.ratio >= 0.5", 0.5, True),
        ("goodput.ratio >= 0.95", 0.5, False),
        ("goodput >= 0.95", 0.5, False),  # bare goodput is the ratio
        ("goodput.requests_per_s > 0.5", 1.0, True),
        ("goodput.output_tokens_per_s >= 15", 15.0, True),
        ("goodput.good@b == 1", 1.0, True),
        ("goodput.ratio@m < 0.5", pytest.approx(1 / 3), True),
    ],
)
def test_goodput_thresholds(expr, value, ok):
    assert parse_threshold(expr).check(goodput_summary()) == {
        "check": expr, "value": value, "ok": ok,
    }  # fmt: skip


def test_goodput_threshold_without_slo_has_no_data_and_fails():
    summary = build_summary(book_with(None, mixed_records()), started_at=1000.0, duration_s=2.0,
                            target="t", settings={})  # fmt: skip
    result = evaluate([parse_threshold("goodput.ratio >= 0.1")], summary)
    assert result["thresholds"][0]["value"] is None and not result["passed"]
    with pytest.raises(ThresholdError, match=r"goodput needs one of \.ratio"):
        parse_threshold("goodput.p99 > 1")


# -- settings and scenario -----------------------------------------------------------------
def options(**values) -> SimpleNamespace:
    return SimpleNamespace(**{"model": "m", "api_key": "", "threshold": None, **values})


def write_scenario(tmp_path, **fields) -> str:
    data = {"name": "s", "models": [{"name": "m"}], "prompts": {"inline": ["hi"]}, **fields}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_flags_and_scenario_slo_merge_with_flags_winning(tmp_path):
    path = write_scenario(tmp_path, slo={"ttft_ms": 500, "tpot_ms": 50})
    merged = resolve_settings(options(scenario=path, slo=["ttft_ms <= 300"]), "h", environ={})
    assert merged.slo == SLO.of("ttft_ms <= 300", "tpot_ms <= 50")
    assert merged.public()["slo"] == {"ttft_ms": 300.0, "tpot_ms": 50.0}
    only_scenario = resolve_settings(options(scenario=path), "h", environ={})
    assert only_scenario.slo == SLO.of("ttft_ms <= 500", "tpot_ms <= 50")
    only_flags = resolve_settings(options(slo=["e2e_ms <= 9"]), "h", environ={})
    assert only_flags.slo == SLO.of("e2e_ms <= 9")
    none = resolve_settings(options(), "h", environ={})
    assert none.slo is None and none.public()["slo"] is None


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--slo", "ttft_ms <= 1", "--slo", "e2e_ms<=2"], {}),
        ([], {"LLM_LOAD_SLO": "[ttft_ms <= 1, e2e_ms <= 2]"}),
    ],
)
def test_the_locust_option_and_its_env_var_reach_the_settings(argv, env):
    parser = get_parser()
    add_arguments(parser)
    parsed = parser.parse_args(argv, env_vars=env)
    assert resolve_settings(parsed, "h", environ={}).slo == SLO.of("ttft_ms<=1", "e2e_ms<=2")


def test_bad_slo_flag_is_an_error():
    with pytest.raises(SLOError, match="did you mean 'tpot_ms'"):
        resolve_settings(options(slo=["tpot <= 5"]), "h", environ={})


def test_goodput_threshold_without_any_slo_is_refused_at_start_up(tmp_path):
    with pytest.raises(ThresholdError, match="goodput needs an SLO"):
        resolve_settings(options(threshold=["goodput.ratio >= 0.9"]), "h", environ={})
    path = write_scenario(tmp_path, thresholds=["goodput.ratio >= 0.9"], slo={"e2e_ms": 800})
    assert resolve_settings(options(scenario=path), "h", environ={}).slo is not None
    late = resolve_settings(options(threshold=["goodput.ratio >= 0.9"]), "h",
                            on_error=lambda e: None, environ={})  # fmt: skip
    assert late.slo is None  # at test start the check just has no data


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        (
            {"tftt_ms": 5},
            "slo.tftt_ms: unknown key; expected one of: ttft_ms, itl_ms, tpot_ms, "
            "e2e_ms, ttfo_ms; did you mean 'ttft_ms'?",
        ),
        ({"ttft_ms": 0}, "slo.ttft_ms: Input should be greater than 0"),
        ({"ttft_ms": "fast"}, "slo.ttft_ms:"),
    ],
)
def test_scenario_slo_errors(tmp_path, slo, message):
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_scenario(tmp_path, slo=slo))
    assert message in str(info.value)


# -- request rows and reports --------------------------------------------------------------
def test_request_rows_say_good_only_with_an_slo():
    slo = SLO.of("ttft_ms <= 200")
    assert request_row(rec(ttft=0.1), slo)["good"] is True
    assert request_row(rec(ttft=0.3), slo)["good"] is False
    assert request_row(rec(ttft=0.1, cancelled=True), slo)["good"] is False
    assert "good" not in request_row(rec(ttft=0.1))


def test_console_markdown_csv_and_web_ui_show_goodput():
    summary = goodput_summary()
    out = io.StringIO()
    print_summary(summary, Console(file=out, width=100, highlight=False))
    text = out.getvalue()
    assert "goodput: 50.0% of requests met TTFT <= 200 ms; 1.00 req/s, 15.0 tok/s" in text
    assert "goodput by model: b 100.0%, m 33.3%" in text
    markdown = render_markdown(summary)
    assert "Goodput %" in markdown and "Goodput: the requests that met TTFT ≤ 200 ms" in markdown
    rows = render_csv(summary).splitlines()
    assert rows[0].endswith(",goodput_ratio,goodput_requests_per_s")
    assert rows[-1].endswith(",0.5,1")  # the (all) row
    assert model_row("m", summary["by_model"]["m"])["goodput_pct"] == 33.3
    plain = build_summary(book_with(None, mixed_records()), started_at=1000.0, duration_s=2.0,
                          target="t", settings={})  # fmt: skip
    assert "Goodput" not in render_markdown(plain)
    assert model_row("m", plain["by_model"]["m"])["goodput_pct"] == "-"
