"""Endpoint URLs, API keys, secrets and `/models` answers, as users and servers give them.

`api_base` accepts a server base URL with or without a trailing `/v1` (and tolerates a
doubled `/v1/v1`) and returns the `/v1` base every OpenAI-compatible path hangs from.
`resolve_key` picks the API key and names its source (the caller passes the environment).
`redact` shows a key only as `sk-…abcd`; `scrub` removes one key from a text (a server that
echoes a wrong key back in its error message must not put it into our outputs) and
`scrub_secrets` removes every form of a key and a URL's password from strings, lists and
dicts. `parse_header` reads a `--header 'Name: value'`; `is_secret_header` says whether its
value is a secret (`Authorization`, `*-Key`, `*-Token`, cookies), `shown_headers` redacts
those values and `header_secrets` lists them for scrubbing. `model_entries` / `model_ids`
read the body of `GET /models`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = [
    "KEY_ENV",
    "REDACTED",
    "ApiKey",
    "HeaderError",
    "api_base",
    "display_url",
    "header_secrets",
    "is_secret_header",
    "model_entries",
    "model_ids",
    "parse_header",
    "redact",
    "resolve_key",
    "scrub",
    "scrub_secrets",
    "secrets_of",
    "shown_headers",
]

KEY_ENV = ("LLM_LOAD_API_KEY", "OPENAI_API_KEY")  # where a key is looked for, in order
REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4  # shorter "keys" would mangle ordinary words when scrubbed
WHOLE_WORD_BELOW = 8  # `scrub_secrets` replaces shorter secrets only as whole words
SECRET_HEADER = re.compile(
    r"^(authorization|proxy-authorization|cookie|.*[-_](key|token|secret)|.*secret.*)$", re.I
)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)


def api_base(host: str) -> str:
    """`http://h:8000`, `http://h:8000/`, `http://h:8000/v1` → `http://h:8000/v1`."""
    base = host.strip().rstrip("/")
    while base.endswith("/v1/v1"):
        base = base[: -len("/v1")]
    return base if base.endswith("/v1") else base + "/v1"


def display_url(url: str) -> str:
    """The URL with any `user:password@` replaced by `***@`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


# -- the API key -----------------------------------------------------------------------------
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


@dataclass(frozen=True, slots=True)
class ApiKey:
    """The API key (None: none configured) and its source: a flag, an env name or `none`."""

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


def resolve_key(
    flag: str | None,
    environ: Mapping[str, str],
    env: tuple[str, ...] = KEY_ENV,
    flag_source: str = "--api-key",
) -> ApiKey:
    """`flag` when given (None: not given; even empty), else the first non-empty of the `env`
    variables in `environ`, else no key (`ApiKey(None, "none")`)."""
    if flag is not None:
        return ApiKey(flag, flag_source)
    for name in env:
        if environ.get(name):
            return ApiKey(environ[name], name)
    return ApiKey(None, "none")


# -- secrets out of every text ---------------------------------------------------------------
def scrub(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by `[redacted]`."""
    if not secret or len(secret) < MIN_SECRET_CHARS or secret not in text:
        return text
    return text.replace(secret, REDACTED)


def secrets_of(url: str, key: ApiKey, headers: tuple[tuple[str, str], ...] = ()) -> tuple[str, ...]:
    """The strings that must never be printed: the key (as is, stripped, URL-quoted), the
    URL's password, secret header values (`header_secrets`); longest first."""
    found = list(header_secrets(headers))
    if key.value:
        found += [key.value, key.value.strip(), quote(key.value, safe="")]
    password = urlsplit(url).password
    if password:
        found.append(password)
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def scrub_secrets(obj: Any, secrets: tuple[str, ...]) -> Any:
    """`obj` (a string, or lists/dicts of them) with every secret replaced by its redaction.

    Secrets shorter than 8 characters are replaced only as whole words, so that a short key
    such as `1` does not mangle numbers."""
    if isinstance(obj, str):
        for secret in secrets:
            if len(secret) >= WHOLE_WORD_BELOW:
                obj = obj.replace(secret, redact(secret))
            else:
                pattern = rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"
                obj = re.sub(pattern, redact(secret), obj)
        return obj
    if isinstance(obj, dict):
        return {k: scrub_secrets(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub_secrets(v, secrets) for v in obj]
    return obj


# -- extra headers -----------------------------------------------------------------------------
class HeaderError(ValueError):
    """A `--header` / `target.headers` entry that cannot be sent."""


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a secret: `Authorization`, `Cookie`, `*-Key`, `*-Token`,
    anything naming a secret (case-insensitive)."""
    return bool(SECRET_HEADER.match(name.strip()))


def parse_header(text: str) -> tuple[str, str]:
    """`'Name: value'` as (name, value); `HeaderError` naming the problem (never the value)."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep:  # the text may be a secret: never repeat it
        raise HeaderError("--header expects 'Name: value' (no ':' found)")
    if not HEADER_NAME.match(name):
        raise HeaderError(f"--header expects 'Name: value' (got a header named {name!r})")
    if "\r" in value or "\n" in value:
        raise HeaderError(f"--header {name}: the value contains a line break")
    return name, value


def shown_headers(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The headers as printed: secret values redacted (`Bearer sk-…abcd`)."""
    return {name: _shown_value(name, value) for name, value in headers}


def _shown_value(name: str, value: str) -> str:
    if not is_secret_header(name):
        return value
    scheme, _, credential = value.partition(" ")
    return f"{scheme} {redact(credential)}" if credential else redact(value)


def header_secrets(headers: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Secret header values, whole and without an auth scheme (`Bearer X` gives X too)."""
    found: list[str] = []
    for name, value in headers:
        if is_secret_header(name) and value:
            found += [value, quote(value, safe="")]
            credential = value.partition(" ")[2].strip()
            if credential:
                found += [credential, quote(credential, safe="")]
    return tuple(found)


# -- GET /models -----------------------------------------------------------------------------
def _model_data(body: bytes | str) -> list[Any] | None:
    try:
        doc = json.loads(body)
    except ValueError:  # not JSON (UnicodeDecodeError included)
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    return data if isinstance(data, list) else None


def model_entries(body: bytes | str) -> list[dict[str, Any]] | None:
    """The entries (objects) of an OpenAI model list `{"data": [...]}`, or None when the body
    is not one (not JSON, no `data` list)."""
    data = _model_data(body)
    return None if data is None else [m for m in data if isinstance(m, dict)]


def model_ids(body: bytes | str) -> tuple[str, ...] | None:
    """The served model ids in the server's order (no repeats), or None when the body is not
    an OpenAI model list of objects that each have an `id`."""
    data = _model_data(body)
    if data is None or not all(isinstance(m, dict) and "id" in m for m in data):
        return None
    return tuple(dict.fromkeys(str(m["id"]) for m in data))
