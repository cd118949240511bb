"""What every doctor check shares: the target being checked and one step's outcome.

The key is resolved like the load test resolves it (`--api-key`, then `LLM_LOAD_API_KEY`, then
`OPENAI_API_KEY`; `llm_load.core.wire.endpoint.resolve_key`), is only ever shown as
`redact(key)` and is removed from every string the doctor outputs (`scrub_secrets`),
including server messages and exception texts. HTTP goes through a `requests.Session` that
ignores the environment (no proxies, no `.netrc` credentials that would silently replace our
`Authorization` header), as the load test does (`llm_load.plain_http.new_session`). TLS
certificates are verified unless `insecure` (`--insecure`, as in the load test) is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from llm_load.core.wire.endpoint import ApiKey
from llm_load.plain_http import new_session

__all__ = ["Step", "Target"]

LEVELS = ("ok", "warn", "fail", "skip")


@dataclass
class Step:
    """One check's outcome. `stop`: a failure ends the run (later checks would repeat it)."""

    name: str
    level: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    stop: bool = True
    summary: str = ""  # short form of a failure for the verdict line (default: message)

    def to_dict(self) -> dict[str, Any]:
        """The `--json` form of the step."""
        ok = None if self.level == "skip" else self.level in ("ok", "warn")
        return {
            "name": self.name,
            "ok": ok,
            "level": self.level,
            "message": self.message,
            "details": self.details,
            "hints": self.hints,
        }


@dataclass
class Target:
    """The server under examination and what the checks learned about it so far."""

    url: str
    key: ApiKey
    model: str | None = None
    timeout: float = 30.0
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    base: str | None = None  # the working API base (…/v1), once found
    models_status: int | None = None  # status of GET {base}/models with our key
    models_message: str = ""  # the server's message with that status
    env_keys: tuple[str, ...] = ()  # which of KEY_ENV are set (to explain precedence)
    served: list[dict[str, Any]] = field(default_factory=list)  # entries of GET /models
    insecure: bool = False  # skip TLS certificate verification (--insecure)

    def __post_init__(self) -> None:
        new_session(self.insecure, self.session)

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        keyless: bool = False,
        stream: bool = False,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One HTTP call with our key (or none; `headers` carry it another way, e.g.
        `x-api-key`); redirects are not followed (as under load)."""
        if headers is None:
            headers = {} if keyless else self.key.headers()
        return self.session.request(
            method,
            url,
            json=json,
            headers=headers,
            timeout=self.timeout,
            allow_redirects=False,
            stream=stream,
        )
