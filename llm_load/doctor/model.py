"""The doctor's model check: is `--model` served (else the served ids and close matches), or,
without `--model`, which served id will be used. `close_models` is pure."""

from __future__ import annotations

import difflib
from typing import Any

from llm_load.doctor.base import Step, Target

__all__ = ["check_model", "close_models"]

MAX_LISTED = 10


def close_models(wanted: str, served: list[str], n: int = 3) -> list[str]:
    """Served ids that look like `wanted`: same name ignoring case or an `org/` prefix,
    containing it, or similar (difflib)."""
    low = wanted.lower()
    tail = low.rsplit("/", 1)[-1]
    lowered = {s.lower(): s for s in served}
    same = [s for s in served if s.lower().rsplit("/", 1)[-1] == tail]
    contains = [s for s in served if tail and (tail in s.lower() or s.lower() in low)]
    similar = [lowered[m] for m in difflib.get_close_matches(low, list(lowered), n, 0.6)]
    out: list[str] = []
    for name in same + similar + contains:
        if name not in out:
            out.append(name)
    return out[:n]


def _listed(ids: list[str]) -> str:
    more = f" … ({len(ids) - MAX_LISTED} more)" if len(ids) > MAX_LISTED else ""
    return ", ".join(ids[:MAX_LISTED]) + more


def check_model(t: Target) -> Step:
    """`--model` is served; without `--model`, the first served id is used."""
    ids = [m["id"] for m in t.served if isinstance(m.get("id"), str)]
    if not ids:
        return Step("model", "fail", f"GET {t.base}/models lists no models")
    details: dict[str, Any] = {"model": t.model, "served": ids}
    if t.model is None:
        t.model = details["model"] = ids[0]
        msg = f"no --model given: using the first served id {ids[0]!r} (served: {_listed(ids)})"
        return Step("model", "ok", msg, details)
    if t.model in ids:
        return Step("model", "ok", f"{t.model!r} is served", details)
    close = details["close_matches"] = close_models(t.model, ids)
    guess = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    msg = f"model {t.model!r} is not served; served: {_listed(ids)}{guess}"
    hint = (
        "vLLM serves the name given by --served-model-name (default: the model path "
        "exactly as passed to vllm serve)"
    )
    summary = f"{t.model!r} is not served{guess}"
    return Step("model", "fail", msg, details, [hint], summary=summary)
