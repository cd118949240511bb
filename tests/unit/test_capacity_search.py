"""The capacity search's pure parts: the binomial rule, the spec, the search against
synthetic step outcomes, and whole runs driven by a simulated clock and server."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from llm_load.core.capacity.run import CapacityRun
from llm_load.core.capacity.search import Search
from llm_load.core.capacity.spec import CapacitySpec, parse_limit
from llm_load.core.capacity.stats import Verdict, judge, lower_tail, requests_to_pass
from llm_load.core.capacity.steps import SendBins, StepWindows, bin_key
from llm_load.core.capacity.text import capacity_line
from llm_load.core.metrics.histogram import LogHistogram
from llm_load.core.metrics.record import RequestRecord


def test_lower_tail_matches_a_direct_sum():
    n, q = 40, 0.1
    direct = sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(6))
    assert lower_tail(5, n, q) == pytest.approx(direct, rel=1e-9)
    assert lower_tail(-1, n, q) == 0.0 and lower_tail(n, n, q) == 1.0


@pytest.mark.parametrize(("q", "needed"), [(0.01, 299), (0.05, 59), (0.1, 29)])
def test_a_clean_pass_needs_the_stated_number_of_requests(q, needed):
    assert requests_to_pass(q, 0.05) == needed
    assert judge(0, needed, q, 0.05) is Verdict.PASS
    assert judge(0, needed - 1, q, 0.05) is Verdict.UNDECIDED


def test_judge_fails_clearly_over_and_counts_in_flight_as_within():
    assert judge(5, 50, 0.01, 0.05) is Verdict.FAIL  # 10 % over a 1 % allowance
    assert judge(1, 50, 0.01, 0.05) is Verdict.UNDECIDED
    # 3 of 20 is clearly over 1 %, but not once 2,000 more requests are still out.
    assert judge(3, 20, 0.01, 0.05) is Verdict.FAIL
    assert judge(3, 20, 0.01, 0.05, in_flight=2000) is Verdict.UNDECIDED
    assert judge(0, 400, 0.01, 0.05, in_flight=1) is Verdict.UNDECIDED  # pass waits for all
    assert judge(1, 10, 0.0, 0.05) is Verdict.FAIL and judge(0, 10, 0.0, 0.05) is Verdict.PASS


def test_spec_parses_limits_and_builds_conditions():
    assert parse_limit("ttft_ms.p99 <= 500").percentile == 99
    assert parse_limit("tpot_ms <= 50 ms").percentile is None
    for bad in ("ttft.p99 <= 5", "ttft_ms.p99 < 5", "ttft_ms.p99 <= 0", "ttft_ms.p100 <= 5"):
        with pytest.raises(ValueError):
            parse_limit(bad)
    spec = CapacitySpec(
        slo=["ttft_ms.p99 <= 500", "ttft_ms.p50 <= 200", "itl_ms <= 40"], goodput=0.9
    )
    kinds = [(c.kind, round(c.q, 4)) for c in spec.conditions()]
    assert kinds == [("percentile", 0.01), ("percentile", 0.5), ("goodput", 0.1), ("errors", 0.01)]
    assert spec.request_slo().as_dict() == {"ttft_ms": 500.0, "itl_ms": 40.0}
    assert (spec.step, CapacitySpec(mode="rate", slo=["e2e_ms.p90 <= 9"]).step) == (1.0, 0.5)
    with pytest.raises(ValidationError, match="percentile limit"):
        CapacitySpec(slo=["ttft_ms <= 500"])
    with pytest.raises(ValidationError, match="whole users"):
        CapacitySpec(slo=["ttft_ms.p99 <= 500"], max=10.5)


def run_search(capacity: float, low=1, high=256, resolution=1.0, integer=True, noisy=()):
    """Drive `Search` with a true capacity; loads in `noisy` pass quickly yet fail confirmed."""
    search, tried = Search(low, high, resolution, integer), []
    while (step := search.next()) is not None:
        tried.append((step.load, step.confirm))
        passed = step.load <= capacity and not (step.confirm and step.load in noisy)
        search.record(step.load, passed, confirmed=step.confirm)
        assert len(tried) < 50
    return search, tried


def test_search_doubles_then_bisects_to_the_capacity_and_confirms_it():
    search, tried = run_search(8)
    assert [load for load, _ in tried] == [1, 2, 4, 8, 16, 12, 10, 9, 8]
    assert tried[-1] == (8, True) and search.value == 8 and search.upper == 9


@pytest.mark.parametrize("capacity", [1, 3, 37, 100, 255])
def test_search_finds_any_capacity_within_the_resolution(capacity):
    search, tried = run_search(capacity)
    assert search.value == capacity and search.upper == capacity + 1
    assert all(load <= 256 for load, _ in tried)


def test_search_stops_at_max_and_below_min():
    search, tried = run_search(1000, high=50)
    assert search.value == 50 and search.upper is None and max(load for load, _ in tried) == 50
    search, tried = run_search(0.5, low=1)
    assert search.value is None and search.upper == 1 and tried == [(1, False)]


def test_a_failed_confirmation_moves_the_answer_down():
    search, tried = run_search(8, noisy={8})
    assert search.value == 7 and search.upper == 8 and tried[-1] == (7, True)


def test_rate_search_bisects_to_half_a_request_per_second():
    search, _ = run_search(9.3, low=1, high=100, resolution=0.5, integer=False)
    assert search.value == 9.0 and search.upper == 9.5


def record(at: float, ttft_ms: float, ok: bool = True) -> RequestRecord:
    return RequestRecord(
        model="m", started_at=at, e2e_s=ttft_ms / 1000 + 0.1, ttft_s=ttft_ms / 1000,
        token_times_s=(ttft_ms / 1000, ttft_ms / 1000 + 0.1), output_tokens=2,
        error_kind=None if ok else "http_503",
    )  # fmt: skip


def test_a_ttfo_percentile_limit_is_judged_on_the_first_answer_tokens():
    from dataclasses import replace

    from llm_load.core.capacity.checks import check

    limit = parse_limit("ttfo_ms.p90 <= 300")
    assert (limit.metric, limit.percentile, limit.label()) == ("ttfo_ms", 90, "TTFO p90 ≤ 300 ms")
    bins = SendBins()
    for n in range(10):  # TTFT 100 ms each; the answer after 200 ms of reasoning, 2 at 400 ms
        bins.add(replace(record(10.0, 100.0), ttfo_s=0.4 if n < 2 else 0.2), good=True)
    (data,) = bins.take().values()
    (condition,) = [c for c in CapacitySpec(slo=[limit.text]).conditions() if c.limit]
    result = check(condition, data, alpha=0.05)
    assert (result.breaks, result.of) == (2, 10) and not result.point_ok  # 20 % > 10 %
    assert data.hists["ttft_ms"].count_above(300) == 0


def test_bins_merge_exactly_into_the_window_of_their_send_time():
    one, two, windows = SendBins(), SendBins(), StepWindows()
    windows.open(bin_key(10.0))
    windows.close(0, bin_key(12.0))
    for bins, at in ((one, 10.2), (two, 11.9), (two, 12.1)):
        bins.sent(at)
        bins.add(record(at, 100.0), good=True)
    for bins in (one, two):
        windows.add(SendBins.from_wire(SendBins.to_wire(bins.take())))
    data = windows.data[0]
    assert (data.sent, data.done, data.good, len(windows.pending)) == (2, 2, 2, 1)
    assert data.hists["ttft_ms"].count == 2 and data.in_flight == 0


def test_count_above_agrees_with_the_percentile():
    hist = LogHistogram()
    for value in range(1, 201):
        hist.record(float(value))
    assert hist.count_above(100.0) in (99, 100, 101)
    assert hist.count_above(300.0) == 0 and hist.count_above(0.5) == 200
    p99 = hist.percentile(99)
    assert hist.count_above(p99) <= 2


class FakeServer:
    """`slots` parallel requests of `service_s`; TTFT = base + queueing; users closed loop."""

    def __init__(self, slots: int, service_s: float, base_ms: float = 50.0):
        self.slots, self.service_s, self.base_ms = slots, service_s, base_ms

    def ttft_ms(self, users: float, i: int) -> float:
        extra = users - self.slots
        if extra <= 0:
            return self.base_ms
        # Clustered phases: `extra` of every `users` requests wait a whole generation.
        return self.base_ms + (self.service_s * 1000 if i % users < extra else 0.0)


def simulate(spec: CapacitySpec, server: FakeServer, limit_s: float = 3600):
    """Run `CapacityRun` against `server` on a simulated clock, 0.1 s per tick."""
    run, bins, now, sent, due = CapacityRun(spec, 1000.0), SendBins(), 1000.0, 0, 0.0
    load = run.advance(now)
    while load is not None and now < 1000.0 + limit_s:
        due += load / server.service_s * 0.1
        while due >= 1:
            at, sent, due = now, sent + 1, due - 1
            bins.sent(at)
            bins.add(record(at, server.ttft_ms(load, sent)), good=True)
        run.windows.add(bins.take())
        now += 0.1
        load = run.advance(now)
    return run


def test_a_simulated_server_with_8_slots_has_a_capacity_of_8_users():
    spec = CapacitySpec(slo=["ttft_ms.p99 <= 100"], step_s=2, min_requests=20, settle_s=0.5)
    run = simulate(spec, FakeServer(8, 0.4))
    summary = run.summary(2000.0)
    assert summary["complete"] and summary["value"] == 8 and summary["value_next_failed"] == 9
    last = summary["steps"][-1]
    assert last["load"] == 8 and last["passed"] and last["decided"] == "confident"
    assert last["requests"] >= 299 and last["ttft_ms"]["p99"] == pytest.approx(50, rel=0.01)
    assert all(s["decided"] == "early" for s in summary["steps"] if not s["passed"])
    line = capacity_line(summary)
    assert line.startswith("Capacity: 8 concurrent users — ") and "At 9 users TTFT p99" in line


def test_errors_over_the_ceiling_fail_a_step():
    spec = CapacitySpec(slo=["ttft_ms.p99 <= 100"], step_s=2, min_requests=20, settle_s=0.5)
    run, bins = CapacityRun(spec, 0.0), SendBins()
    assert run.advance(0.0) == 1
    for i in range(100):
        at = 1.0 + i * 0.05
        bins.sent(at)
        bins.add(record(at, 50.0, ok=i % 10 != 0), good=i % 10 != 0)
    for now in (0.5, 1.0):
        run.advance(now)
    run.windows.add(bins.take())
    assert run.advance(7.0) is None  # 10 % errors: clearly over 1 %, and 1 user was the min
    step = run.steps[0]
    assert not step["passed"] and "error rate = 10.0% (ceiling 1.0%)" in step["reason"]
    assert run.summary(7.0)["value"] is None


def test_a_reopened_window_gets_back_what_was_sent_while_it_drained():
    windows, bins = StepWindows(), SendBins()
    windows.open(bin_key(10.0))
    windows.close(0, bin_key(12.0))
    bins.sent(12.2)  # sent while the step drains: not yet the step's
    windows.add(bins.take())
    assert windows.data[0].sent == 0 and windows.pending
    windows.reopen(0)
    bins.add(record(12.2, 50.0), good=True)
    windows.add(bins.take())
    assert (windows.data[0].sent, windows.data[0].done, windows.data[0].in_flight) == (1, 1, 0)
    windows.close(0, bin_key(13.0))
    bins.sent(13.1)
    windows.add(bins.take())
    windows.open(bin_key(20.0))  # the next step: what was left over was settling time
    assert windows.unattributed == 1 and not windows.pending
