"""Endpoint URLs and secrets as users give them, made canonical and safe to print.

`api_base` accepts a server base URL with or without a trailing `/v1` (and tolerates a
doubled `/v1/v1`) and returns the `/v1` base every OpenAI-compatible path hangs from.
`redact` shows an API key only as `sk-…abcd`; `scrub` removes a key from any text (a server
that echoes a wrong key back in its error message must not put it into our outputs).
"""

from __future__ import annotations

__all__ = ["REDACTED", "api_base", "redact", "scrub"]

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4  # shorter "keys" would mangle ordinary words when scrubbed


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


def scrub(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by `[redacted]`."""
    if not secret or len(secret) < MIN_SECRET_CHARS or secret not in text:
        return text
    return text.replace(secret, REDACTED)
