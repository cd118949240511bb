"""One capacity search over time: each step settles, measures, drains and is decided.

`CapacityRun.advance(now, ...)` is called about once a second (by the Locust load shape) with
the epoch time and returns the load to hold (None: the search is over). A step:

1. *settles*: the load is applied; once it is reached (`ready`) it runs `settle_s` more
   (at least the previous step's E2E p90), and requests sent meanwhile are not measured;
2. *measures*: its window (of send times) opens; it closes after `step_s` and at least
   `target` requests sent (`min_requests`; for a confirmation, enough to pass with
   confidence). A step that is *clearly over* a limit fails at once (at alpha / 10, as it is
   looked at every second, and once 10 requests finished), with its requests in flight
   counted as within the limits;
3. *drains*: the load stays while the window's requests finish and, distributed, every
   worker has reported past the window's end (`known_until`), or `drain_timeout_s` passed;
4. is *decided* (`stats.judge` per condition): any clear fail fails; all clearly within
   passes, confirmed; else a quick pass when quick passes are allowed and the point estimates
   are well within (each percentile at most 80 % of its limit; `Search` asks for a
   confirmation of the answer at the end); else the window reopens to measure twice as
   many requests, up to `max_step_s`, after which the point estimate decides (borderline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from llm_load.core.capacity.checks import Check, check_all
from llm_load.core.capacity.search import Next, Search
from llm_load.core.capacity.spec import CapacitySpec
from llm_load.core.capacity.stats import Verdict, requests_to_pass
from llm_load.core.capacity.steps import BIN_S, StepData, StepWindows

__all__ = ["CapacityRun", "Phase"]

READY_WAIT_S = 30.0  # a load not reached by then is measured anyway
SETTLE_CAP_S = 30.0
EARLY_ALPHA_SHARE = 0.1
EARLY_MIN_REQUESTS = 10  # an early fail needs this many finished requests


class Phase(Enum):
    SETTLE = "settle"
    MEASURE = "measure"
    DRAIN = "drain"


@dataclass(slots=True)
class Step:
    number: int
    load: float
    confirm: bool
    set_at: float
    target: int
    phase: Phase = Phase.SETTLE
    ready_at: float | None = None
    window: int = -1
    opened_at: float = 0.0
    closed_at: float = 0.0


class CapacityRun:
    """The search of one run (see module doc); `steps` are the decided steps' dicts."""

    def __init__(self, spec: CapacitySpec, started_at: float) -> None:
        self.spec = spec
        self.started_at = started_at
        self.search = Search(spec.min, spec.max, spec.step, integer=spec.mode == "users")
        self.conditions = spec.conditions()
        self.windows = StepWindows()
        self.steps: list[dict[str, Any]] = []
        self.current: Step | None = None
        self.finished_at: float | None = None
        self._settle_s = spec.settle_s

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def advance(
        self, now: float, ready: bool = True, known_until: float | None = None,
        drain_timeout_s: float = 60.0,
    ) -> float | None:  # fmt: skip
        """The load to hold now, or None when the search is over (see module doc)."""
        if self.finished:
            return None
        step = self.current or self._next_step(now)
        if step is None:
            return None
        known = now if known_until is None else known_until
        if step.phase is Phase.SETTLE:
            self._settle(step, now, ready)
        elif step.phase is Phase.MEASURE:
            self._measure(step, now)
        else:
            self._drain(step, now, known, drain_timeout_s)
        if self.current is None:  # decided: the next step's load (or the end)
            following = self._next_step(now)
            return None if following is None else following.load
        return step.load

    def _next_step(self, now: float) -> Step | None:
        nxt: Next | None = self.search.next()
        if nxt is None:
            self.finished_at = now
            return None
        target = self.spec.min_requests
        if nxt.confirm:
            strictest = min(c.q for c in self.conditions)
            target = max(target, requests_to_pass(strictest, self.spec.alpha))
        self.current = Step(len(self.steps) + 1, nxt.load, nxt.confirm, now, target)
        return self.current

    def _settle(self, step: Step, now: float, ready: bool) -> None:
        if step.ready_at is None and (ready or now - step.set_at >= READY_WAIT_S):
            step.ready_at = now
        if step.ready_at is not None and now >= step.ready_at + self._settle_s:
            key = math.ceil(now / BIN_S)
            step.window = self.windows.open(key)
            step.opened_at = key * BIN_S
            step.phase = Phase.MEASURE

    def data(self, step: Step) -> StepData:
        return self.windows.data[step.window]

    def _measure(self, step: Step, now: float) -> None:
        if self._failed_early(step, now):
            return
        elapsed = now - step.opened_at
        enough = elapsed >= self.spec.step_s and self.data(step).sent >= step.target
        if enough or elapsed >= self.spec.max_step_s:
            key = math.ceil(now / BIN_S)
            self.windows.close(step.window, key)
            step.closed_at = key * BIN_S
            step.phase = Phase.DRAIN

    def _failed_early(self, step: Step, now: float) -> bool:
        if self.data(step).done < EARLY_MIN_REQUESTS:
            return False
        alpha = self.spec.alpha * EARLY_ALPHA_SHARE
        checks = check_all(self.conditions, self.data(step), alpha, drained=False)
        if not any(c.verdict is Verdict.FAIL for c in checks):
            return False
        if step.phase is Phase.MEASURE:
            self.windows.close(step.window, math.ceil(now / BIN_S))
            step.closed_at = now
        self._decide(step, now, checks, passed=False, how="early")
        return True

    def _drain(self, step: Step, now: float, known: float, timeout_s: float) -> None:
        if self._failed_early(step, now):
            return
        drained = known >= step.closed_at and self.data(step).in_flight == 0
        if not drained and now < step.closed_at + timeout_s:
            return
        checks = check_all(self.conditions, self.data(step), self.spec.alpha, drained=True)
        verdicts = {c.verdict for c in checks}
        if Verdict.FAIL in verdicts:
            self._decide(step, now, checks, passed=False, how="confident")
        elif verdicts == {Verdict.PASS}:
            self._decide(step, now, checks, passed=True, how="confident")
        elif not step.confirm and all(c.quick_ok for c in checks):
            self._decide(step, now, checks, passed=True, how="quick")
        elif now - step.opened_at < self.spec.max_step_s:
            step.target = max(step.target * 2, self.data(step).sent * 2)
            self.windows.reopen(step.window)
            step.phase = Phase.MEASURE
        else:
            passed = all(c.point_ok for c in checks)
            self._decide(step, now, checks, passed=passed, how="borderline")

    def _decide(self, step: Step, now: float, checks: list[Check], passed: bool, how: str) -> None:
        self.search.record(step.load, passed, confirmed=how != "quick")
        self.steps.append(self._result(step, now, checks, passed, how))
        e2e = self.data(step).hists["e2e_ms"].percentile(90)
        self._settle_s = max(self.spec.settle_s, min(SETTLE_CAP_S, (e2e or 0.0) / 1000.0))
        self.current = None

    def _result(
        self, step: Step, now: float, checks: list[Check], passed: bool, how: str
    ) -> dict[str, Any]:
        data = self.data(step)
        window_s = max(BIN_S, step.closed_at - step.opened_at)
        failing = [c for c in checks if c.verdict is Verdict.FAIL or not c.point_ok]
        return {
            "step": step.number,
            "load": step.load,
            "started_s": round(step.set_at - self.started_at, 3),
            "window_s": round(window_s, 3),
            "sent": data.sent,
            "requests": data.done,
            "failures": data.failures,
            "cancelled": data.cancelled,
            "error_rate": data.failures / data.done if data.done else 0.0,
            "goodput": data.good / data.done if data.done else None,
            "requests_per_s": data.done / window_s,
            "output_tokens_per_s": data.output_tokens / window_s,
            **{n: h.summary() for n, h in data.hists.items() if h.count or n != "ttfo_ms"},
            "checks": [c.to_dict() for c in checks],
            "passed": passed,
            "decided": how,
            "confirmed": how != "quick",
            "reason": _reason(passed, how, failing, data),
        }

    def summary(self, now: float) -> dict[str, Any]:
        """`capacity` of summary.json."""
        spec, search = self.spec, self.search
        value = search.value if self.finished else _confirmed(search)
        upper = search.upper
        return {
            "mode": spec.mode,
            "unit": spec.unit,
            "slo": list(spec.slo),
            "goodput": spec.goodput,
            "max_error_rate": spec.max_error_rate,
            "confidence": spec.confidence,
            "bounds": {"min": search.min, "max": search.max, "resolution": spec.step},
            "value": value,
            "value_next_failed": upper,
            "complete": self.finished,
            "expect": spec.expect,
            "met_expectation": None if spec.expect is None else (value or 0) >= spec.expect,
            "steps": list(self.steps),
            "duration_s": round((self.finished_at or now) - self.started_at, 3),
        }


def _confirmed(search: Search) -> float | None:
    """The answer so far when the search stopped early: the highest confirmed pass."""
    upper = search.upper
    ok = [load for load, sure in search.passes.items() if sure and (upper is None or load < upper)]
    return max(ok) if ok else None


def _reason(passed: bool, how: str, failing: list[Check], data: StepData) -> str:
    if passed and how == "quick":
        return f"within the limits on {data.done:,} requests (point estimate, to confirm)"
    if passed and how == "confident":
        return f"within every limit with confidence on {data.done:,} requests"
    if passed:
        return f"borderline, within on the point estimate after {data.done:,} requests"
    cause = "; ".join(c.describe() for c in failing) or "over a limit"
    if how == "early":
        return f"clearly over after {data.done:,} requests: {cause}"
    prefix = "borderline, " if how == "borderline" else ""
    return f"{prefix}{cause}"
