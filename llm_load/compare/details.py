"""Backend details a server volunteers, per response and per model.

Hosted APIs say which machine and engine answered: a `backend` object in the response body
or in each streamed chunk (e.g. `{"machine_name": "gpu-07", "engine_type": "vllm"}`), and
response headers such as `server`, `x-backend` or `openai-processing-ms`. `response_details`
turns one response's into `name -> text`; `BackendSeen` keeps, per model, the distinct
values seen (a few per name) and the mean of numeric timing headers. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["IDENTITY_HEADERS", "TIMING_HEADERS", "BackendSeen", "response_details"]

IDENTITY_HEADERS = ("server", "x-backend", "x-served-by", "x-model-backend", "via")
TIMING_HEADERS = ("openai-processing-ms",)
MAX_VALUES = 3  # distinct values kept per name and model
MAX_CHARS = 80


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def response_details(backend: Any, header: Callable[[str], str | None]) -> dict[str, str]:
    """One response's details: the `backend` object's fields, then the known headers
    (`header(name)` returns a header's value or None)."""
    out: dict[str, str] = {}
    if isinstance(backend, dict):
        out.update({str(k): _text(v) for k, v in backend.items() if v not in (None, "")})
    elif backend not in (None, ""):
        out["backend"] = _text(backend)
    for name in (*IDENTITY_HEADERS, *TIMING_HEADERS):
        value = header(name)
        if value:
            out[name] = _text(value)
    return out


class BackendSeen:
    """What one model's responses said about their backend."""

    __slots__ = ("_timing", "values")

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {}
        self._timing: dict[str, list[float]] = {}

    def add(self, details: dict[str, str]) -> None:
        for name, value in details.items():
            if name in TIMING_HEADERS:
                try:
                    self._timing.setdefault(name, []).append(float(value))
                    continue
                except ValueError:
                    pass
            seen = self.values.setdefault(name, [])
            if value not in seen:
                seen.append(value)

    @property
    def empty(self) -> bool:
        return not self.values and not self._timing

    def text(self) -> str:
        """`machine_name=gpu-1|gpu-2, server=uvicorn, openai-processing-ms≈41` (or "")."""
        parts = []
        for name, seen in self.values.items():
            shown = "|".join(seen[:MAX_VALUES])
            more = len(seen) - MAX_VALUES
            parts.append(f"{name}={shown}" + (f" (+{more} more)" if more > 0 else ""))
        for name, values in self._timing.items():
            parts.append(f"{name}≈{sum(values) / len(values):.0f}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """For summary.json: every distinct value, and timing means."""
        out: dict[str, Any] = {name: list(seen) for name, seen in self.values.items()}
        out.update({f"{n}_mean": sum(v) / len(v) for n, v in self._timing.items()})
        return out
