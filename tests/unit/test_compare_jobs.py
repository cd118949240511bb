"""`JobBoard`: every pass handed out once, within the parallelism bounds, models in order."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from llm_load.compare.jobs import Job, JobBoard


def simulate(board: JobBoard, seed: int) -> dict[str, object]:
    """Senders take jobs while they can; a random in-flight job finishes; repeat."""
    rng = random.Random(seed)
    in_flight: list[Job] = []
    handed: list[Job] = []
    peak_total = 0
    peak_model: Counter[str] = Counter()
    peak_models = 0
    started: list[str] = []
    while not board.finished:
        while len(in_flight) < board.users and (job := board.take()) is not None:
            in_flight.append(job)
            handed.append(job)
            if job.model not in started:
                started.append(job.model)
        assert in_flight, "nothing in flight but the board is not finished"
        peak_total = max(peak_total, len(in_flight))
        per_model = Counter(j.model for j in in_flight)
        for model, n in per_model.items():
            peak_model[model] = max(peak_model[model], n)
        peak_models = max(peak_models, len(per_model))
        assert board.in_flight == len(in_flight)
        board.done(in_flight.pop(rng.randrange(len(in_flight))))
    return {
        "handed": handed,
        "peak_total": peak_total,
        "peak_model": peak_model,
        "peak_models": peak_models,
        "started": started,
    }


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    ("models", "passes", "pm", "pr"),
    [
        (("a", "b"), 3, 2, 2),
        (("a", "b", "c"), 5, 3, 2),
        (("a", "b", "c", "d"), 3, 2, 4),
        (("a",), 1, 1, 1),
        (("a", "b", "c"), 2, 1, 1),
        (("a", "b"), 4, 5, 8),
    ],
)
def test_bounds_and_exactly_once(
    models: tuple[str, ...], passes: int, pm: int, pr: int, seed: int
) -> None:
    board = JobBoard(models, passes, pm, pr)
    result = simulate(board, seed)
    handed = result["handed"]
    assert sorted((j.model, j.number) for j in handed) == sorted(
        (m, n) for m in models for n in range(1, passes + 1)
    )
    assert all(j.passes == passes for j in handed)
    assert result["started"] == list(models)  # models start in the order given
    assert result["peak_models"] <= pm
    assert all(n <= pr for n in result["peak_model"].values())
    assert result["peak_total"] <= board.users == min(pm, len(models)) * min(pr, passes)
    # the bounds are reached: this many senders are busy at the start
    assert result["peak_total"] == board.users
    assert board.take() is None and board.finished


def test_next_model_waits_for_the_active_one_to_finish() -> None:
    board = JobBoard(("a", "b"), 2, 1, 2)
    first, second = board.take(), board.take()
    assert (first, second) == (Job("a", 1, 2), Job("a", 2, 2))
    assert board.take() is None and not board.finished  # 'b' must wait: 'a' is in flight
    board.done(first)
    assert board.take() is None  # still one of 'a' in flight
    board.done(second)
    assert board.active_models == ()
    assert board.take() == Job("b", 1, 2)


def test_pass_numbers_are_in_order_per_model() -> None:
    board = JobBoard(("m",), 4, 1, 4)
    assert [board.take().number for _ in range(4)] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert board.take() is None


@pytest.mark.parametrize(("passes", "pm", "pr"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_rejects_zero(passes: int, pm: int, pr: int) -> None:
    with pytest.raises(ValueError):
        JobBoard(("a",), passes, pm, pr)
