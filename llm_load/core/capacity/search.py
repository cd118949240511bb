"""Which load to try next: grow by doubling until a step fails, then bisect to the resolution.

`Search` knows the loads tried and their outcomes. Its lower bound is the highest passed
load below the lowest failed one (a pass above a fail, noise, is ignored); its upper bound
is that lowest fail. While nothing failed it doubles the last pass (never above `max`); then
it bisects until the bounds are one `resolution` apart. A pass decided on the point estimate
alone (a *quick* pass, see `llm_load.core.capacity.run`) is enough to steer, but the answer
must be *confirmed*: once the bounds meet, an unconfirmed lower bound is tested again with
the full rule; if that fails, it becomes the new upper bound and the bisection goes on.
The answer is `value` (None when even `min` failed) and `value_next_failed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Next", "Search"]


@dataclass(frozen=True, slots=True)
class Next:
    """The next step: its load, and whether it must be decided with the full rule."""

    load: float
    confirm: bool


class Search:
    """Loads `min..max` (users when `integer`, else req/s) to `resolution`."""

    def __init__(self, low: float, high: float, resolution: float, integer: bool) -> None:
        if integer:
            low, high = int(low), int(high)
        self.min, self.max, self.resolution, self.integer = low, high, resolution, integer
        self.passes: dict[float, bool] = {}  # load -> confirmed
        self.fails: set[float] = set()

    def record(self, load: float, passed: bool, confirmed: bool) -> None:
        if passed:
            self.passes[load] = self.passes.get(load, False) or confirmed
        else:
            self.fails.add(load)
            self.passes.pop(load, None)

    @property
    def upper(self) -> float | None:
        """The lowest failed load."""
        return min(self.fails) if self.fails else None

    @property
    def value(self) -> float | None:
        """The highest passed load below every fail."""
        upper = self.upper
        below = [load for load in self.passes if upper is None or load < upper]
        return max(below) if below else None

    def next(self) -> Next | None:
        """The next step, or None when the search is over."""
        low, high = self.value, self.upper
        if low is None:
            if high is not None and high <= self.min:
                return None  # even the smallest load fails
            return Next(self.min, confirm=high is not None and high - self.min <= self.resolution)
        if high is None and low < self.max:
            return Next(self._grow(low), confirm=False)
        if high is not None and high - low > self.resolution:
            return Next(self._middle(low, high), confirm=False)
        return None if self.passes[low] else Next(low, confirm=True)

    def _grow(self, low: float) -> float:
        grown = low * 2 if low * 2 - low >= self.resolution else low + self.resolution
        return min(self.max, self._round(grown, up=True))

    def _middle(self, low: float, high: float) -> float:
        middle = self._round((low + high) / 2, up=False)
        return middle if low < middle < high else self._round(low + self.resolution, up=False)

    def _round(self, load: float, up: bool) -> float:
        """Whole users, or a multiple of the resolution in req/s."""
        unit = 1.0 if self.integer else self.resolution
        steps = load / unit
        steps = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
        return steps if self.integer else round(steps * unit, 9)
