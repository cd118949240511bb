"""What every doctor check shares: the API key and where it came from, the target being
checked, one step's outcome, the HTTP call and the scrubbing of secrets from any text.

The key is resolved like the load test resolves it (`--api-key`, then `LLM_LOAD_API_KEY`, then
`OPENAI_API_KEY`), is only ever shown as `redact(key)` and is removed from every string the
doctor outputs (`scrub`), including server messages and exception texts. HTTP goes through a
`requests.Session` that ignores the environment (no proxies, no `.netrc` credentials that
would silently replace our `Authorization` header), as the load test does. TLS certificates
are verified unless `insecure` (`--insecure`, as in the load test) is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3

from llm_load.core.wire.endpoint import redact
from llm_load.core.wire.errors import body_message

__all__ = [
    "KEY_ENV",
    "ApiKey",
    "Step",
    "Target",
    "describe_error",
    "display_url",
    "resolve_key",
    "scrub",
    "secrets_of",
    "server_message",
]

KEY_ENV = ("LLM_LOAD_API_KEY", "OPENAI_API_KEY")
LEVELS = ("ok", "warn", "fail", "skip")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """The API key (None: none configured) and its source: `--api-key`, an env name or `none`."""

    value: str | None = field(repr=False)
    source: str

    @property
    def shown(self) -> str:
        """`sk-…abcd`, `(none)` or `(empty)`; surrounding whitespace is named, not shown."""
        value = self.value
        if value is not None and value.strip() and value != value.strip():
            return redact(value.strip()) + " (with surrounding whitespace)"
        return redact(value)

    @property
    def problem(self) -> str | None:
        """Why this key cannot be sent as an HTTP header, or None."""
        if self.value is None:
            return None
        if "\r" in self.value or "\n" in self.value:
            return "contains a line break (read from a file with a trailing newline?)"
        try:
            self.value.encode("latin-1")
        except UnicodeEncodeError:
            return "contains non-ASCII characters (copied from a redacted display like sk-…?)"
        return None

    def headers(self) -> dict[str, str]:
        """`Authorization: Bearer KEY` (`Bearer ` alone for an empty key); none when unsendable."""
        if self.value is None or self.problem:
            return {}
        return {"Authorization": f"Bearer {self.value}"}


def resolve_key(flag: str | None, environ: Mapping[str, str]) -> ApiKey:
    """`--api-key` (even empty), else the first non-empty of `KEY_ENV`, else no key."""
    if flag is not None:
        return ApiKey(flag, "--api-key")
    for name in KEY_ENV:
        if environ.get(name):
            return ApiKey(environ[name], name)
    return ApiKey(None, "none")


def secrets_of(url: str, key: ApiKey) -> tuple[str, ...]:
    """The strings that must never be printed: the key (as is, stripped, URL-quoted), the
    URL's password."""
    found = []
    if key.value:
        found += [key.value, key.value.strip(), quote(key.value, safe="")]
    password = urlsplit(url).password
    if password:
        found.append(password)
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def scrub(obj: Any, secrets: tuple[str, ...]) -> Any:
    """`obj` (a string, or lists/dicts of them) with every secret replaced by its redaction.

    Secrets shorter than 8 characters are replaced only as whole words, so that a short key
    such as `1` does not mangle numbers."""
    if isinstance(obj, str):
        for secret in secrets:
            if len(secret) >= 8:
                obj = obj.replace(secret, redact(secret))
            else:
                pattern = rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"
                obj = re.sub(pattern, redact(secret), obj)
        return obj
    if isinstance(obj, dict):
        return {k: scrub(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(v, secrets) for v in obj]
    return obj


def display_url(url: str) -> str:
    """The URL with any `user:password@` replaced by `***@`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


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
        self.session.trust_env = False
        self.session.verify = not self.insecure
        if self.insecure:  # asked for: no warning per request
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        keyless: bool = False,
        stream: bool = False,
    ) -> requests.Response:
        """One HTTP call with our key (or none); redirects are not followed (as under load)."""
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


def server_message(resp: requests.Response) -> str:
    """The server's own message from an error response (any body shape, never raises)."""
    try:
        body = resp.content
    except (requests.RequestException, OSError):  # a body we cannot read is an empty one
        body = b""
    return body_message(body)


def describe_error(exc: BaseException, timeout: float) -> str:
    """A short, human description of a `requests` exception (its innermost cause)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connect timeout after {timeout:g} s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no response within {timeout:g} s (read timeout)"
    inner: Any = exc.args[0] if exc.args else exc
    inner = getattr(inner, "reason", inner)
    text = str(inner)
    if isinstance(inner, BaseException) and not isinstance(inner, str):
        text = f"{type(inner).__name__}: {text}" if text else type(inner).__name__
    return text[:300]
