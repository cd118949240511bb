"""Console lines of a capacity search, from its summary dicts: one per step, and the answer.

`step_line(step, unit)` is printed live as each step is decided; `capacity_line(capacity)`
is the answer, e.g. "Capacity: 48 concurrent users — 37.2 req/s, 5,900 output tok/s — within
TTFT p99 ≤ 500 ms (goodput 99.1 %). At 56 users TTFT p99 = 720 ms (limit 500)."
"""

from __future__ import annotations

from typing import Any

__all__ = ["capacity_line", "load_text", "step_line"]


def load_text(load: float | None, unit: str, concurrent: bool = False) -> str:
    if load is None:
        return "-"
    if unit == "users":
        noun = "user" if load == 1 else "users"
        return f"{load:g} {'concurrent ' if concurrent else ''}{noun}"
    return f"{load:g} req/s"


def _percentiles(step: dict[str, Any]) -> str:
    parts = []
    for check in step["checks"]:
        if check["slo"].split()[0] in ("goodput", "errors"):
            continue
        name = check["slo"].split(" ≤ ")[0]
        value = "-" if check["value"] is None else f"{check['value']:,.0f} ms"
        parts.append(f"{name} {value}")
    return ", ".join(parts)


def step_line(step: dict[str, Any], unit: str) -> str:
    """`step 4: 8 users | 312 req, 21.7 req/s | TTFT p99 62 ms | goodput 100.0 % | errors
    0.0 % -> PASS (confirmed)`."""
    verdict = "PASS" if step["passed"] else "FAIL"
    goodput = "-" if step["goodput"] is None else f"{step['goodput']:.1%}"
    return (
        f"capacity step {step['step']}: {load_text(step['load'], unit)} | "
        f"{step['requests']:,} req, {step['requests_per_s']:.1f} req/s | {_percentiles(step)} | "
        f"goodput {goodput} | errors {step['error_rate']:.1%} -> {verdict} ({step['decided']}): "
        f"{step['reason']}"
    )


def _within(capacity: dict[str, Any]) -> str:
    limits = [c["slo"] for c in capacity["steps"][0]["checks"]] if capacity["steps"] else []
    shown = [text for text in limits if not text.startswith("errors")]
    return " and ".join(shown) or "the limits"


def capacity_line(capacity: dict[str, Any]) -> str:
    """The answer in one line (see module doc)."""
    unit, value = capacity["unit"], capacity["value"]
    steps = capacity["steps"]
    at_value = [s for s in steps if s["load"] == value and s["passed"]]
    failed = [s for s in steps if s["load"] == capacity["value_next_failed"] and not s["passed"]]
    if value is None:
        text = f"Capacity: below {load_text(capacity['bounds']['min'], unit)}"
    else:
        text = f"Capacity: {load_text(value, unit, concurrent=True)}"
        if at_value:
            best = at_value[-1]
            goodput = "" if best["goodput"] is None else f" (goodput {best['goodput']:.1%})"
            text += (
                f" — {best['requests_per_s']:.1f} req/s, "
                f"{best['output_tokens_per_s']:,.0f} output tok/s — within {_within(capacity)}"
                f"{goodput}"
            )
    text += "."
    if failed:
        cause = failed[-1]["reason"].split(": ", 1)[-1]
        text += f" At {load_text(failed[-1]['load'], unit)} {cause}."
    elif value is not None and value >= capacity["bounds"]["max"]:
        text += f" No step failed up to --max {load_text(capacity['bounds']['max'], unit)}."
    if not capacity["complete"]:
        text += " (search stopped before the end)"
    return text
