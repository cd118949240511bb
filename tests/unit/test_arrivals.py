"""Open-loop arrival schedules and their exactly-merging outcome counters."""

import json

import pytest

from llm_load.core.scenario.arrivals import LATE_MS, ArrivalSchedule, ArrivalStats
from llm_load.core.scenario.schema import Load


def times(schedule: ArrivalSchedule) -> list[float]:
    out = []
    while (t := schedule.next()) is not None:
        out.append(t)
    return out


def test_poisson_rate_follows_each_stage():
    got = times(ArrivalSchedule([(100.0, 20.0), (200.0, 50.0)], seed=1))
    first = sum(t < 100 for t in got)
    assert first == pytest.approx(2000, rel=0.06)
    assert len(got) - first == pytest.approx(5000, rel=0.05)
    assert got == sorted(got) and got[-1] < 200


def test_shares_of_workers_add_up_to_the_rate():
    shares = []
    for rank in range(3):
        schedule = ArrivalSchedule([(200.0, 30.0)], seed=f"w{rank}")
        schedule.set_share(rank, 3)
        shares.append(times(schedule))
    assert sum(len(s) for s in shares) == pytest.approx(6000, rel=0.04)
    assert all(len(s) == pytest.approx(2000, rel=0.08) for s in shares)


def test_constant_shares_interleave_evenly():
    merged = []
    for rank in range(2):
        schedule = ArrivalSchedule([(1.0, 10.0)], poisson=False)
        schedule.set_share(rank, 2)
        merged += times(schedule)
    assert sorted(merged) == pytest.approx([0.1 * i for i in range(1, 10)])


def test_a_zero_rate_stage_is_skipped():
    got = times(ArrivalSchedule([(1.0, 0.0), (2.0, 4.0)], poisson=False))
    assert got == pytest.approx([1.25, 1.5, 1.75])


def test_stats_count_late_and_merge_exactly():
    a, b = ArrivalStats(), ArrivalStats()
    for lag in (0.5, 3.0, LATE_MS + 1, 250.0):
        a.add_sent(lag)
    b.add_sent(1.0)
    b.dropped = 2
    a.merge(ArrivalStats.from_dict(json.loads(json.dumps(b.to_dict()))))
    summary = a.summary(10.0)
    assert (summary["scheduled"], summary["sent"], summary["late"], summary["dropped"]) == (
        7,
        5,
        2,
        2,
    )
    assert summary["schedule_lag_ms"]["max"] == 250.0


def test_open_loop_load_validation():
    load = Load.model_validate({"rate": 10, "users": 8})
    assert load.open_loop and load.rate_segments(30) == [(30, 10)]
    staged = Load.model_validate(
        {"stages": [{"duration_s": 5, "rate": 2}, {"duration_s": 5, "rate": 8}]}
    )
    assert staged.rate_segments() == [(5, 2), (10, 8)] and staged.stage_at(7) == (1, 1.0)
    with pytest.raises(ValueError, match="all with users"):
        Load.model_validate(
            {"stages": [{"duration_s": 5, "rate": 2}, {"duration_s": 5, "users": 3}]}
        )
    with pytest.raises(ValueError, match="exactly one of users"):
        Load.model_validate({"stages": [{"duration_s": 5, "rate": 2, "users": 3}]})
    with pytest.raises(ValueError, match="think_time_s"):
        Load.model_validate({"rate": 5, "think_time_s": 1})


def test_an_endless_rate_never_runs_out():
    schedule = ArrivalSchedule([(float("inf"), 1000.0)], poisson=False)
    assert [schedule.next() for _ in range(3)] == pytest.approx([0.001, 0.002, 0.003])
