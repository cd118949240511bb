"""Blocking HTTP with `requests` for the commands around the load test (doctor, compare).

`new_session` ignores the environment (no proxies, no `.netrc` credentials that would
silently replace our `Authorization` header), as the load test does, and verifies TLS
certificates unless `insecure`. `server_message` is the server's own message from an error
response; `describe_error` a short description of a failed call. Secrets are the caller's
business (`llm_load.core.wire.endpoint.scrub_secrets`).
"""

from __future__ import annotations

from typing import Any

import requests
import urllib3

from llm_load.core.wire.errors import body_message

__all__ = ["describe_error", "new_session", "server_message"]


def new_session(
    insecure: bool = False, session: requests.Session | None = None
) -> requests.Session:
    """`session` (default: a new one) set to ignore proxy and `.netrc` settings; TLS
    certificates verified unless `insecure`."""
    session = session if session is not None else requests.Session()
    session.trust_env = False
    session.verify = not insecure
    if insecure:  # asked for: no warning per request
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return session


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
