"""`LLMUser`: an abstract Locust user that sends OpenAI-compatible chat completions.

The only network I/O of llm-load's Locust layer. One LLM call is one Locust request
(response_time = end-to-end ms, response_length = output tokens); TTFT, ITL and token
counts go to the run's `MetricsBook` through a `RequestRecord`. The network loop only
stamps times and delegates parsing to `llm_load.core`.
"""

from __future__ import annotations

from locust import FastHttpUser, task
from locust.exception import CatchResponseError

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from time import perf_counter
from typing import Any

from gevent import GreenletExit
from geventhttpclient.response import HTTPConnectionClosed
from orjson import dumps

from llm_load.core.metrics.record import RequestRecord, record_from_stream
from llm_load.core.wire.chat import ChatStream, chat_request_body, json_loads
from llm_load.core.wire.encoding import InvalidEncoding, UnsupportedEncoding
from llm_load.core.wire.endpoint import scrub
from llm_load.core.wire.errors import body_message
from llm_load.locust.run import llm_run
from llm_load.locust.transport import (
    MAX_ERROR_BODY,
    FirstToken,
    StreamClosed,
    TTFTTimeout,
    limit_header_wait,
    read_body,
    read_sse,
    set_read_timeout,
    warm_connection,
)

__all__ = ["LLMUser", "failure_kind", "http_failure"]

ALL_STATUS_CODES = frozenset(range(100, 600))
# Errors of a pooled connection that the server closed while it sat idle in the pool.
STALE = (HTTPConnectionClosed, ConnectionResetError, BrokenPipeError)
TLS_HINT = " (self-signed or private CA? --insecure skips certificate verification)"
KINDS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (socket.gaierror, "dns_error"),
    (ConnectionRefusedError, "connection_refused"),
    (TTFTTimeout, "ttft_timeout"),
    ((TimeoutError, socket.timeout), "timeout"),
    (ssl.SSLError, "tls_error"),
    (
        (StreamClosed, HTTPConnectionClosed, ConnectionResetError, BrokenPipeError),
        "connection_closed",
    ),
    (UnsupportedEncoding, "unsupported_encoding"),
    (InvalidEncoding, "invalid_encoding"),
)


def failure_kind(error: BaseException) -> str:
    """A short, stable name for a transport-level failure (see docs/failures.md)."""
    error = cause(error)
    for types, kind in KINDS:
        if isinstance(error, types):
            return kind
    return "connection_error"


def cause(error: BaseException) -> BaseException:
    """The error geventhttpclient wrapped (a timeout arrives as `RetriesExceeded`)."""
    inner = getattr(error, "original", None)
    return inner if isinstance(inner, BaseException) else error


def http_failure(resp: Any) -> tuple[str, str]:
    """`http_<status>` and the server's own message; a 429 says it is rate limiting, with
    its `Retry-After` (never obeyed: a load test shows the 429s instead of waiting them out)."""
    try:
        message = body_message(read_body(resp, MAX_ERROR_BODY))
    except ValueError as error:  # a body in an encoding we cannot decode
        message = f"(unreadable body: {error})"
    if resp.status_code == 429:
        retry_after = resp.headers.get("retry-after")
        where = f" (Retry-After: {retry_after})" if retry_after else ""
        message = f"rate limited{where}: {message}"
    return f"http_{resp.status_code}", message


class LLMUser(FastHttpUser):
    """Streams chat completions from `--host` with the run's settings.

    Subclass it in a locustfile (it is abstract); override `messages()` to change what is
    sent, or call `chat_completion()` from your own tasks.
    """

    abstract = True
    last_response: ChatStream | None = None

    def __init__(self, environment: Any) -> None:
        self.llm = llm_run(environment)
        settings = self.llm.settings
        self.network_timeout = settings.request_timeout_s
        self.connection_timeout = settings.request_timeout_s
        self.insecure = settings.insecure  # Locust's default (True) would skip verification
        super().__init__(environment)
        # Every status is a response to read (error bodies carry the server's message);
        # geventhttpclient would otherwise raise and drop the body before we see it.
        self.client.client.valid_response_codes = ALL_STATUS_CODES
        self._path = settings.base_url + "/chat/completions"
        self._headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if settings.api_key:
            self._headers["Authorization"] = f"Bearer {settings.api_key}"
        self._sent_s = 0.0  # perf_counter when the current request was sent
        # --ttft-timeout also bounds the wait for the headers (servers that send them late).
        ttft, stall = settings.ttft_timeout_s, settings.request_timeout_s
        self._header_wait_s = ttft if settings.stream and 0 < ttft < stall else None
        if self._header_wait_s is not None:
            limit_header_wait(self.client, self._path, self._header_wait_s)

    def on_start(self) -> None:
        warm_connection(self.client, self._path)

    def messages(self) -> list[dict[str, Any]]:
        """The chat messages of the next request (default: the `--prompt`)."""
        return [{"role": "user", "content": self.llm.settings.prompt}]

    def new_stream(self) -> ChatStream:
        """The accumulator of the next response; override to read more of each chunk."""
        return ChatStream()

    @task
    def chat(self) -> None:
        self.chat_completion(self.messages())

    def chat_completion(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        extra: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        grade: Callable[[ChatStream], str] | None = None,
        name: str | None = None,
        scheduled_at: float | None = None,
    ) -> RequestRecord:
        """Send one chat completion, record it, and return its record.

        `model`, `max_tokens` and `temperature` default (when None) to the run's settings;
        `extra` adds body fields (e.g. `tools`); `grade` grades a successful response's tool
        calls; `name` is the Locust request name (`chat MODEL`). `scheduled_at` (an open
        loop's intended send time, perf_counter s) is where latencies start when it is past.
        The accumulated response stays available as `self.last_response`."""
        s = self.llm.settings
        if self.llm.reactor is not None:
            self.llm.reactor.poll_if_due()
        model = model or self.llm.model
        body = chat_request_body(
            model,
            messages,
            max_tokens=s.max_tokens if max_tokens is None else max_tokens,
            temperature=s.temperature if temperature is None else temperature,
            stream=s.stream,
            extra=extra,
        )
        chat = self.last_response = self.new_stream()
        name = name or f"chat {model}"
        started_at = time.time()
        t0 = perf_counter()
        if scheduled_at is not None:
            self.llm.arrival_sent(scheduled_at, t0)
            if scheduled_at < t0:  # late: the wait for a free user is part of the latency
                started_at -= t0 - scheduled_at
                t0 = scheduled_at
        self.llm.sending(started_at)
        resp, retries = None, 0
        try:
            resp, retries = self._send(name, dumps(body))
            failure = self._read(resp, chat, t0, s.stream)
        except (GreenletExit, KeyboardInterrupt):
            # The test is stopping (a Ctrl-C lands in whichever greenlet runs): count the
            # request apart, never as a failure, and let the stop go on.
            self._record(chat, model, started_at, t0, messages, None, retries, cancelled=True)
            raise
        except Exception as error:  # any transport fault becomes a precise failure kind
            failure = (failure_kind(error), str(error) or type(error).__name__)
        graded = grade(chat) if grade is not None and failure is None else None
        record = self._record(chat, model, started_at, t0, messages, failure, retries, graded)
        self.environment.events.request.fire(
            request_type="POST",
            name=name,
            response_time=record.e2e_ms,
            response_length=record.output_tokens,
            response=resp,
            context=self.context(),
            exception=None
            if record.ok
            else CatchResponseError(f"{record.error_kind}: {record.error_message}"),
            start_time=started_at,
            url=self._path,
        )
        if self.llm.reactor is not None:
            self.llm.reactor.poll_if_due()
        return record

    def _send(self, name: str, data: bytes) -> tuple[Any, int]:
        """POST the body; a pooled keep-alive connection the server had already closed is
        retried once on a fresh one (nothing was received, so nothing is lost)."""
        self._sent_s = perf_counter()
        resp = self._post(name, data)
        if resp.status_code == 0 and isinstance(getattr(resp, "error", None), STALE):
            return self._post(name, data), 1
        return resp, 0

    def _post(self, name: str, data: bytes) -> Any:
        return self.client.request(
            "POST", self._path, name=name, data=data, headers=self._headers,
            stream=True, catch_response=True,
        )  # fmt: skip

    def _read(self, resp: Any, chat: ChatStream, t0: float, stream: bool) -> tuple[str, str] | None:
        """Read the response into `chat`; an HTTP-level failure as (kind, message)."""
        if resp.status_code == 0:
            return self._transport_failure(getattr(resp, "error", None))
        if self._header_wait_s is not None:  # headers in: the body has the stall timeout
            set_read_timeout(resp, self.llm.settings.request_timeout_s)
        if resp.status_code >= 300:
            return http_failure(resp)
        ctype = (resp.headers.get("content-type") or "").lower()
        if stream and "text/event-stream" in ctype:
            first = self._first_token(chat)
            read_sse(resp, chat.add, t0, self.llm.reactor, first, chat.has_token)
            return None
        body = read_body(resp)
        if stream:
            return "not_sse", f"expected text/event-stream, got {ctype!r}: {body_message(body)}"
        try:
            chat.add_completion(json_loads(body))
        except ValueError:
            return "invalid_json", f"response is not JSON: {body_message(body)}"
        return None

    def _transport_failure(self, error: BaseException | None) -> tuple[str, str]:
        """(kind, message) of a request that got no response."""
        error = cause(error or ConnectionError("no response"))
        kind, message = failure_kind(error), str(error) or type(error).__name__
        waited = perf_counter() - self._sent_s
        if kind == "timeout" and self._header_wait_s and waited < self.network_timeout:
            wait = self._header_wait_s
            return "ttft_timeout", f"no token within {wait:g} s of sending the request (no headers)"
        return kind, message + TLS_HINT if kind == "tls_error" else message

    def _first_token(self, chat: ChatStream) -> FirstToken | None:
        """The `--ttft-timeout` deadline of the current streamed request, if one is set."""
        timeout = self.llm.settings.ttft_timeout_s
        if timeout <= 0:
            return None
        return FirstToken(self._sent_s + timeout, timeout, lambda: bool(chat.token_times_s))

    def _record(
        self,
        chat: ChatStream,
        model: str,
        started_at: float,
        t0: float,
        messages: list[dict[str, Any]],
        failure: tuple[str, str] | None,
        retries: int = 0,
        tool_grade: str | None = None,
        cancelled: bool = False,
    ) -> RequestRecord:
        record = record_from_stream(
            chat,
            model=model,
            started_at=started_at,
            e2e_s=perf_counter() - t0,
            streamed=self.llm.settings.stream,
            failure=failure,
            cancelled=cancelled,
            connection_retries=retries,
            tool_grade=tool_grade,
            prompt_chars=sum(len(str(m.get("content") or "")) for m in messages),
        )
        message, key = record.error_message, self.llm.settings.api_key
        if message and key and key in message:  # a server that echoes the key back
            record = replace(record, error_message=scrub(message, key))
        self.llm.add(record)
        return record
