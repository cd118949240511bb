"""The `load:` part of a scenario: closed-loop users and stages, or open-loop rates.

Pydantic models with unknown keys rejected (see `llm_load.core.scenario.schema` for the whole
scenario and its error messages). Times are seconds, rates requests/s, spawn rates users/s.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Load", "Stage"]

_STRICT = ConfigDict(extra="forbid")
_RUN_TIME = re.compile(r"^\s*(?:\d+h)?\s*(?:\d+m)?\s*(?:\d+s)?\s*$")
PositiveInt = Annotated[int, Field(ge=1)]


class Stage(BaseModel):
    """For `duration_s`: hold `users` (reached at `spawn_rate` users/s), or, open-loop,
    send `rate` requests/s."""

    model_config = _STRICT
    duration_s: float = Field(gt=0)
    users: int | None = Field(default=None, ge=0)
    rate: float | None = Field(default=None, ge=0)
    spawn_rate: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _one(self) -> Stage:
        if (self.users is None) == (self.rate is None):
            raise ValueError("expected exactly one of users (closed loop) or rate (req/s)")
        return self


class Load(BaseModel):
    """Closed loop: users, spawn rate (users/s), think time (s), stages of users. Open loop:
    `rate` req/s (or stages of rates) with Poisson or constant `arrival` gaps, sent by up to
    `users` concurrent users; an arrival no user could send within `max_lag_s` is dropped."""

    model_config = _STRICT
    users: PositiveInt = 1
    spawn_rate: float = Field(default=1.0, gt=0)
    run_time: str | None = None
    think_time_s: float | tuple[float, float] = Field(default=0.0)
    stages: list[Stage] | None = Field(default=None, min_length=1)
    rate: float | None = Field(default=None, gt=0)
    arrival: Literal["poisson", "constant"] = "poisson"
    max_lag_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _open_or_closed(self) -> Load:
        kinds = {stage.rate is None for stage in self.stages or ()}
        if len(kinds) > 1:
            raise ValueError("stages: all with users (closed loop) or all with rate (open loop)")
        if self.rate is not None and self.stages and kinds == {True}:
            raise ValueError("rate: not with stages of users (give the stages a rate instead)")
        if self.open_loop and self.think_time_s != 0.0:
            raise ValueError("think_time_s: only for closed loops (open loops follow the rate)")
        return self

    @property
    def open_loop(self) -> bool:
        return self.rate is not None or any(s.rate is not None for s in self.stages or ())

    def rate_segments(self, run_time_s: float | None = None) -> list[tuple[float, float]]:
        """(end s, rate req/s) of an open loop: its stages, or `rate` until `run_time_s`."""
        if self.stages:
            out, end = [], 0.0
            for stage in self.stages:
                end += stage.duration_s
                out.append((end, stage.rate or 0.0))
            return out
        return [(run_time_s or float("inf"), self.rate or 0.0)]

    @field_validator("run_time", mode="before")
    @classmethod
    def _run_time(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return f"{int(value)}s"
        if not isinstance(value, str) or not value.strip() or not _RUN_TIME.match(value):
            raise ValueError("expected a duration like 30s, 5m, 1h30m or a number of seconds")
        return value.replace(" ", "")

    @field_validator("think_time_s")
    @classmethod
    def _think(cls, value: float | tuple[float, float]) -> float | tuple[float, float]:
        low, high = value if isinstance(value, tuple) else (value, value)
        if low < 0 or high < low:
            raise ValueError("expected seconds >= 0, or [LO, HI] with 0 <= LO <= HI")
        return value

    def stage_at(self, elapsed_s: float) -> tuple[int, float] | None:
        """(users, spawn_rate) of the stage running `elapsed_s` into the test; None after.
        Open-loop stages keep `users` running (the rate is the arrival schedule's)."""
        end = 0.0
        for stage in self.stages or ():
            end += stage.duration_s
            if elapsed_s < end:
                users = self.users if stage.users is None else stage.users
                return users, stage.spawn_rate if stage.users is not None else self.spawn_rate
        return None

    @property
    def stages_s(self) -> float:
        return sum(s.duration_s for s in self.stages or ())

    def describe(self) -> str:
        """The load mode in a few words, e.g. `open loop: 30 req/s poisson, max 64 in flight`
        or `closed loop: 3 stages of 8 -> 32 -> 64 users`."""
        if self.open_loop:
            if self.stages:
                rates = _steps([stage.rate or 0.0 for stage in self.stages])
                rates += f" req/s {self.arrival} in {_count(len(self.stages), 'stage')}"
            else:
                rates = f"{self.rate:g} req/s {self.arrival}"
            return f"open loop: {rates}, max {self.users} in flight"
        if self.stages:
            users = _steps([stage.users or 0 for stage in self.stages])
            return f"closed loop: {_count(len(self.stages), 'stage')} of {users} users"
        return f"closed loop: {_count(self.users, 'user')}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _steps(values: list[float] | list[int], most: int = 6) -> str:
    """`5 -> 20 -> 40`; long lists keep their first three and last values."""
    text = [f"{v:g}" for v in values]
    if len(text) > most:
        text = [*text[:3], "...", text[-1]]
    return " -> ".join(text)
