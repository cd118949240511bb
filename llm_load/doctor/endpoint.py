"""Doctor checks up to the model: TCP/TLS connect, the `/models` endpoint (and, on a 404, the
base URL that does work) and authentication.

Pure helpers: `candidate_bases` (the sibling bases tried after a 404), `doubled_path` (a URL
that repeats `/v1` or ends with a pasted endpoint path, which the doctor names instead of
silently normalising) and `host_for` (the `-H` value whose `api_base` is a given base).
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

import certifi
import requests

from llm_load.core.wire.endpoint import api_base, model_entries
from llm_load.doctor.base import Step, Target
from llm_load.plain_http import describe_error, server_message

__all__ = [
    "candidate_bases",
    "check_auth",
    "check_connect",
    "check_endpoint",
    "doubled_path",
    "host_for",
]

_ENDPOINT_SUFFIXES = ("/chat/completions", "/completions", "/models")
_EXTRA_PREFIXES = ("/api",)
_REPEATED_V1 = re.compile(
    r"(?:/v1){2,}(?=/|$)"
)  # a reverse-proxy prefix seen in front of OpenAI-compatible APIs


def _trimmed(url: str) -> str:
    """The URL without a trailing slash or a pasted endpoint path (`…/v1/chat/completions`)."""
    url = url.strip().rstrip("/")
    for suffix in _ENDPOINT_SUFFIXES:
        if url.endswith(suffix):
            return url[: -len(suffix)].rstrip("/")
    return url


def candidate_bases(url: str) -> list[str]:
    """Bases to try after `api_base(url)` served no `/models`, most useful first.

    Those ending in `/v1` (which a `-H` can reach) come before those without; `api_base(url)`
    itself and doubled `/v1/v1` paths are never among them."""
    given = url.strip().rstrip("/")
    trimmed = _trimmed(given)
    parts = urlsplit(given)
    origin = f"{parts.scheme}://{parts.netloc}"
    primary = api_base(given)
    found = [api_base(trimmed), given, primary[: -len("/v1")], trimmed, origin + "/v1", origin]
    found += [origin + prefix + "/v1" for prefix in _EXTRA_PREFIXES]
    unique = [
        b for i, b in enumerate(found) if b != primary and b not in found[:i] and "/v1/v1" not in b
    ]
    return sorted(unique, key=lambda b: not b.endswith("/v1"))


def doubled_path(url: str) -> tuple[str, str] | None:
    """`(what, fixed)` when the URL's path says twice what llm-load adds itself: `/v1/v1`
    (`what` = "has /v1 twice") or a pasted endpoint path such as `…/v1/chat/completions`;
    `fixed` is the URL without it. None for a URL without either."""
    given = url.strip().rstrip("/")
    parts = urlsplit(given)
    for suffix in _ENDPOINT_SUFFIXES:
        if parts.path.endswith(suffix):
            pasted = "/v1" + suffix if parts.path.endswith("/v1" + suffix) else suffix
            return f"ends with the endpoint path {pasted}", _trimmed(given)
    path = _REPEATED_V1.sub("/v1", parts.path)
    return ("has /v1 twice", given.replace(parts.path, path, 1)) if path != parts.path else None


def host_for(base: str) -> str | None:
    """The shortest `-H` value that `api_base` turns into `base`; None when it cannot."""
    return base[: -len("/v1")] if base.endswith("/v1") else None


# --------------------------------------------------------------------------- connect


def _tls_handshake(sock: socket.socket, host: str, verify: bool = True) -> str:
    context = ssl.create_default_context(cafile=certifi.where())
    if not verify:  # --insecure
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(sock, server_hostname=host) as tls:
        return str(tls.version())


def _connect_failure(exc: OSError, host: str, port: int, timeout: float) -> Step:
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return Step("connect", "fail", f"DNS lookup of {host!r} failed: {exc.strerror or exc}")
    if isinstance(exc, ConnectionRefusedError):
        hint = "a server still loading its model refuses connections (llama.cpp, vLLM): wait"
        msg = f"connection refused by {where}: nothing listens there (server down, wrong port?)"
        return Step("connect", "fail", msg, hints=[hint])
    if isinstance(exc, TimeoutError):
        msg = f"no answer from {where} within {timeout:g} s (firewall, wrong host, overloaded?)"
        return Step("connect", "fail", msg)
    if isinstance(exc, ssl.SSLCertVerificationError):
        msg = f"TLS certificate of {where} not trusted: {exc.verify_message}"
        hint = "a self-signed or private-CA certificate: --insecure skips verification"
        return Step("connect", "fail", msg, hints=[hint])
    if isinstance(exc, ssl.SSLError):
        hints = ["the server speaks plain HTTP: use http://"] if "VERSION" in str(exc) else []
        return Step("connect", "fail", f"TLS handshake with {where} failed: {exc}", hints=hints)
    return Step("connect", "fail", f"cannot connect to {where}: {exc.strerror or exc}")


def check_connect(t: Target) -> Step:
    """DNS + TCP connect (+ TLS handshake for https) to the URL's host and port."""
    try:
        parts = urlsplit(t.url.strip())
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        return Step("connect", "fail", f"invalid URL: {exc}")
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return Step("connect", "fail", "not an http(s) URL (expected e.g. http://127.0.0.1:8000)")
    t0 = perf_counter()
    try:
        with socket.create_connection((host, port), timeout=t.timeout) as sock:
            ms = (perf_counter() - t0) * 1e3
            address = sock.getpeername()[0]
            tls = _tls_handshake(sock, host, not t.insecure) if parts.scheme == "https" else None
    except OSError as exc:
        return _connect_failure(exc, host, port, t.timeout)
    details = {"host": host, "port": port, "address": address, "connect_ms": round(ms, 2)}
    via = f" ({address})" if address != host else ""
    suffix = f", {tls}" if tls else ""
    details["tls"] = tls
    return Step(
        "connect", "ok", f"{host}:{port}{via} accepts connections ({ms:.1f} ms{suffix})", details
    )


# --------------------------------------------------------------------------- /models


@dataclass
class Probe:
    """`GET {base}/models`: `kind` is ok (a models list), auth (401/403), missing (404, or 200
    without a models list), redirect or error (anything else)."""

    base: str
    kind: str
    status: int | None
    message: str
    ms: float = 0.0
    data: list[dict[str, Any]] | None = None

    @property
    def url(self) -> str:
        return self.base + "/models"

    def brief(self) -> str:
        """`URL → status` (`→ 200, not a models list` for a catch-all page)."""
        if self.status == 200 and self.kind != "ok":
            return f"{self.url} → 200, not a models list"
        return f"{self.url} → {self.status if self.status is not None else 'error'}"


def probe_models(t: Target, base: str, keyless: bool = False) -> Probe:
    """Classify `GET {base}/models`."""
    t0 = perf_counter()
    try:
        resp = t.request("GET", base + "/models", keyless=keyless)
    except requests.RequestException as exc:
        return Probe(base, "error", None, describe_error(exc, t.timeout))
    ms = (perf_counter() - t0) * 1e3
    status = resp.status_code
    if status == 200:
        data = model_entries(resp.content)
        if data is not None:
            return Probe(base, "ok", status, "", ms, data)
        text = f"it says: {server_message(resp)[:120]}"
        return Probe(base, "missing", status, text, ms)
    if 300 <= status < 400:
        return Probe(base, "redirect", status, f"redirect to {resp.headers.get('location')}", ms)
    kinds = {401: "auth", 403: "auth", 404: "missing", 405: "missing"}
    return Probe(base, kinds.get(status, "error"), status, server_message(resp), ms)


def _adopt(t: Target, probe: Probe) -> None:
    t.base, t.models_status, t.served = probe.base, probe.status, probe.data or []
    t.models_message = probe.message


def _found_elsewhere(t: Target, first: Probe, found: Probe, tried: list[Probe]) -> Step:
    _adopt(t, found)
    host = host_for(found.base)
    head = f"GET {first.brief()} ({first.message})"
    details = {
        "url": first.url,
        "status": first.status,
        "base_url": found.base,
        "suggested_host": host,
        "tried": [[p.url, p.status] for p in tried],
    }
    hints = [f"tried: {', '.join(p.brief() for p in tried)}"]
    if host is None:
        msg = (
            f"{head}; the server answers at {found.url} (no /v1), which llm-load cannot "
            f"target: it always requests -H + /v1/..."
        )
        return Step(
            "endpoint",
            "fail",
            msg,
            details,
            hints,
            stop=False,
            summary=f"the API is at {found.base}, without /v1",
        )
    msg = f"{head}; the server serves {found.url}: use -H {host}"
    hints.insert(0, f"-H {found.base} works too (with or without /v1)")
    hints.append(f"continuing with {found.base} to find the next problem")
    return Step(
        "endpoint",
        "fail",
        msg,
        details,
        hints,
        stop=False,
        summary=f"wrong base URL: use -H {host}",
    )


def _endpoint_ok(t: Target, probe: Probe) -> Step:
    _adopt(t, probe)
    details = {
        "url": probe.url,
        "status": probe.status,
        "base_url": probe.base,
        "suggested_host": host_for(probe.base),
        "ms": round(probe.ms, 2),
    }
    if probe.kind == "auth":
        msg = f"GET {probe.brief()}: authentication required (checked next)"
    else:
        n = len(probe.data or [])
        msg = f"GET {probe.brief()} ({n} model{'s' * (n != 1)}, {probe.ms:.0f} ms)"
    return Step("endpoint", "ok", msg, details)


def _doubled(t: Target, what: str, probe: Probe) -> Step:
    """The URL repeats a path llm-load adds itself, and the URL without it works."""
    _adopt(t, probe)
    host = host_for(probe.base)
    details = {"doubled": what, "url": probe.url, "status": probe.status}
    details |= {"base_url": probe.base, "suggested_host": host}
    hints = [
        f"llm-load requests -H + /v1/chat/completions itself; -H {probe.base} works too",
        f"continuing with {probe.base} to find the next problem",
    ]
    msg = f"your URL {what}; the server serves {probe.url}: use -H {host}"
    return Step(
        "endpoint",
        "fail",
        msg,
        details,
        hints,
        stop=False,
        summary=f"your URL {what}: use -H {host}",
    )


def check_endpoint(t: Target) -> Step:
    """`GET {api_base(url)}/models`; on a 404, the sibling base that works (if any). A URL
    with a doubled path (`/v1/v1`, a pasted `/v1/chat/completions`) fails, naming it."""
    doubled = doubled_path(t.url)
    if doubled is not None:
        probe = probe_models(t, api_base(doubled[1]))
        if probe.kind in ("ok", "auth"):
            return _doubled(t, doubled[0], probe)
    first = probe_models(t, api_base(t.url))
    if first.kind in ("ok", "auth"):
        return _endpoint_ok(t, first)
    details: dict[str, Any] = {"url": first.url, "status": first.status}
    if first.kind in ("redirect", "error"):
        hints = ["llm-load does not follow redirects: use the URL it points to"]
        hints = hints if first.kind == "redirect" else []
        return Step("endpoint", "fail", f"GET {first.brief()}: {first.message}", details, hints)
    tried = []
    for base in candidate_bases(t.url):
        probe = probe_models(t, base)
        tried.append(probe)
        if probe.kind in ("ok", "auth"):
            return _found_elsewhere(t, first, probe, tried)
    details["tried"] = [[p.url, p.status] for p in tried]
    msg = f"GET {first.brief()} ({first.message}); no sibling base serves /models either"
    hints = [
        f"tried: {', '.join(p.brief() for p in tried)}",
        "an OpenAI-compatible server? check the URL's path (a proxy prefix?)",
    ]
    return Step("endpoint", "fail", msg, details, hints, summary="no /v1/models at this URL")


# --------------------------------------------------------------------------- auth

_SERVER_HINT = (
    "vLLM accepts only the key it was started with (vllm serve ... --api-key KEY, or "
    "VLLM_API_KEY=KEY); llama.cpp: llama-server --api-key KEY. Pass that same key with "
    "--api-key KEY, LLM_LOAD_API_KEY or OPENAI_API_KEY"
)


def _key_hints(t: Target, status: int | None) -> list[str]:
    key, hints = t.key, [_SERVER_HINT]
    if key.source == "OPENAI_API_KEY":
        hints.append(
            "OPENAI_API_KEY is used because --api-key and LLM_LOAD_API_KEY are unset; "
            "it may hold a key for another service (api.openai.com)"
        )
    elif key.source != "none" and any(name != key.source for name in t.env_keys):
        also = " and ".join(name for name in t.env_keys if name != key.source)
        hints.append(
            f"precedence: --api-key, then LLM_LOAD_API_KEY, then OPENAI_API_KEY; "
            f"{also} is set too but not used"
        )
    if key.value is not None and key.value != key.value.strip() and not key.problem:
        hints.append("the key has leading or trailing whitespace")
    if key.value == "":
        hints.append("note: the load test sends no Authorization header at all for an empty key")
    if status == 403:
        hints.append(
            "403: the server or a gateway knows the request but refuses it; a valid key "
            "without access to this route or model gets 403 too"
        )
    return hints


def _auth_problem(t: Target) -> str:
    """What went wrong with the key, in the user's terms."""
    key = t.key
    if key.problem:
        return f"the API key from {key.source} cannot be sent: it {key.problem}"
    if key.value is None:
        return (
            "this server requires an API key and none was sent "
            "(no --api-key, LLM_LOAD_API_KEY or OPENAI_API_KEY)"
        )
    if key.value == "":
        return f"an empty API key was sent (from {key.source}): this server requires an API key"
    return f"the server rejected the API key {key.shown} (from {key.source})"


def _auth_failure(t: Target) -> Step:
    key, status, what = t.key, t.models_status, _auth_problem(t)
    said = t.models_message or "(no message)"
    if status in (401, 403):
        sent = "without it, " if key.problem else ""
        msg = f"{what}; {sent}the server says “{said}” (HTTP {status})"
    else:
        msg = f"{what} (the server answers HTTP {status} without a key)"
    details = {
        "status": status,
        "server_message": said,
        "key": key.shown,
        "key_source": key.source,
    }
    hints = _key_hints(t, status)
    if status in (401, 403) and t.base is not None and _guards_every_path(t, t.base):
        hints.append(
            f"this server answers {status} to any path without a valid key (llama.cpp checks "
            f"the key before the path), so the base URL {t.base} is not checked yet: fix the "
            "key, then run doctor again"
        )
    return Step("auth", "fail", msg, details, hints, summary=what)


def _guards_every_path(t: Target, base: str) -> bool:
    """Whether a path no server serves also answers 401/403: auth before routing."""
    probe = probe_models(t, base + "/llm-load-doctor-no-such-path")
    return probe.kind == "auth"


def check_auth(t: Target) -> Step:
    """Whether our key (or no key) is accepted by `GET {base}/models`, and whether one is needed."""
    if t.base is None:
        return Step("auth", "skip", "not checked (no working base URL)")
    if t.models_status in (401, 403) or t.key.problem:
        return _auth_failure(t)
    key = t.key
    details: dict[str, Any] = {"key": key.shown, "key_source": key.source}
    if key.value is None:
        return Step("auth", "ok", "no API key needed (none sent)", details)
    keyless = probe_models(t, t.base, keyless=True)
    details["status_without_key"] = keyless.status
    if keyless.kind == "ok":
        msg = f"no API key needed (the key {key.shown} from {key.source} is sent but not checked)"
        return Step("auth", "ok", msg, details)
    return Step("auth", "ok", f"API key {key.shown} (from {key.source}) accepted", details)
