"""Endpoint URLs and secrets as users give them, made canonical and safe to print.

`api_base` accepts a server base URL with or without a trailing `/v1` (and tolerates a
doubled `/v1/v1`) and returns the `/v1` base every OpenAI-compatible path hangs from.
`redact` shows an API key only as `sk-…abcd`.
"""

from __future__ import annotations

__all__ = ["api_base", "redact"]


def api_base(host: str) -> str:
    """`http://h:8000`, `http://h:8000/`, `http://h:8000/v1` → `http://h:8000/v1`."""
    base = host.strip().rstrip("/")
    while base.endswith("/v1/v1"):
        base = base[: -len("/v1")]
    return base if base.endswith("/v1") else base + "/v1"


def redact(key: str | None) -> str:
    """A key as `sk-…abcd` (prefix and last 4 characters), `(none)` or `(empty)`."""
    if key is None:
        return "(none)"
    if not key:
        return "(empty)"
    if len(key) <= 8:
        return "…" + "*" * 4
    prefix = "sk-" if key.startswith("sk-") else ""
    return f"{prefix}…{key[-4:]}"
