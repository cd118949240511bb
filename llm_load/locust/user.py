"""`LLMUser`: an abstract Locust user that sends OpenAI-compatible chat completions.

The only network I/O of llm-load's Locust layer. A call goes through a row of the endpoint
protocol table (`llm_load.core.wire.protocols`: path, body, accumulator, error shape) in
four steps: send (retrying a stale pooled connection once), read into the accumulator (the
wire: `llm_load.locust.wire`), record, report. One LLM call is one Locust request
(response_time = end-to-end ms, response_length = output tokens); TTFT, ITL and token
counts go to the run's `MetricsBook` through a `RequestRecord`.
"""

from __future__ import annotations

from locust import FastHttpUser, task
from locust.exception import CatchResponseError
from locust.user.task import LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any

from gevent import GreenletExit
from orjson import dumps

from llm_load.core.metrics.record import RequestRecord, record_from_stream
from llm_load.core.wire.chat import ChatStream, exact_output_fields
from llm_load.core.wire.encoding import InvalidEncoding, UnsupportedEncoding
from llm_load.core.wire.endpoint import scrub
from llm_load.core.wire.errors import body_message
from llm_load.core.wire.protocols import CHAT, PROTOCOLS, Call, WireProtocol
from llm_load.locust.prometheus import in_flight
from llm_load.locust.run import llm_run
from llm_load.locust.wire import (
    CONNECTION_CLOSED,
    MAX_ERROR_BODY,
    STALE,
    FirstToken,
    TTFTTimeout,
    Wire,
    read_body,
    read_sse,
    set_read_timeout,
    use_wire,
    warm_connection,
)

__all__ = ["LLMUser", "failure_kind", "http_failure"]

ALL_STATUS_CODES = frozenset(range(100, 600))
TLS_HINT = " (self-signed or private CA? --insecure skips certificate verification)"
KINDS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (socket.gaierror, "dns_error"),
    (ConnectionRefusedError, "connection_refused"),
    (TTFTTimeout, "ttft_timeout"),
    ((TimeoutError, socket.timeout), "timeout"),
    (ssl.SSLError, "tls_error"),
    (CONNECTION_CLOSED, "connection_closed"),
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


def http_failure(
    resp: Any, error_message: Callable[[bytes | None], str] = body_message
) -> tuple[str, str]:
    """`http_<status>` and the server's own message (`error_message` of the body); a 429
    says it is rate limiting, with its `Retry-After` (never obeyed: a load test shows the
    429s instead of waiting them out)."""
    try:
        message = error_message(read_body(resp, MAX_ERROR_BODY))
    except ValueError as error:  # a body in an encoding we cannot decode
        message = f"(unreadable body: {error})"
    if resp.status_code == 429:
        retry_after = resp.headers.get("retry-after")
        where = f" (Retry-After: {retry_after})" if retry_after else ""
        message = f"rate limited{where}: {message}"
    return f"http_{resp.status_code}", message


@dataclass(frozen=True, slots=True)
class Clock:
    """Where a call's latencies start: `started_at` (wall-clock s, Locust's `start_time`)
    and `t0` (`perf_counter` s); both moved back to an open loop's late schedule."""

    started_at: float
    t0: float


class LLMUser(FastHttpUser):
    """Streams chat completions from `--host` with the run's settings.

    Subclass it in a locustfile (it is abstract); override `messages()` to change what is
    sent, or call `chat_completion()` from your own tasks. `protocol` is the API it speaks
    (a row of the endpoint protocol table: `--api`, or a call's `api=`).
    """

    abstract = True
    last_response: ChatStream | None = None
    protocol: WireProtocol = CHAT

    def __init__(self, environment: Any) -> None:
        self.llm = llm_run(environment)
        settings = self.llm.settings
        self.network_timeout = settings.request_timeout_s
        self.connection_timeout = settings.request_timeout_s
        self.insecure = settings.insecure  # Locust's default (True) would skip verification
        super().__init__(environment)
        # Every status is a response to read (error bodies carry the server's message);
        # geventhttpclient would otherwise raise and drop the body before we see it.
        # (geventhttpclient declares it a class variable; set on this client on purpose)
        self.client.client.valid_response_codes = ALL_STATUS_CODES  # type: ignore[misc]
        if type(self).protocol is CHAT:  # not chosen by the class: the run's --api
            self.protocol = PROTOCOLS[settings.api]
        self._path, self._headers = self._route(self.protocol)
        self._active = self.protocol  # the protocol of the current call
        self._routes = {self.protocol.name: (self._path, self._headers)}
        self._sent_s = 0.0  # perf_counter when the current request was sent
        # --ttft-timeout also bounds the wait for the headers (servers that send them late).
        ttft, stall = settings.ttft_timeout_s, settings.request_timeout_s
        self._header_wait_s = ttft if settings.stream and 0 < ttft < stall else None
        self._wire = Wire(self.llm.reactor, self._header_wait_s)  # handed to its connections
        use_wire(self.client, self._wire)

    def stop(self, force: bool = False) -> bool:
        """Locust's stop, except that a user stopped between two requests is marked stopping
        before the kill: its own wake-up (queued before the kill when it waits 0 s, back to
        back) then ends the wait with `StopUser` instead of sending a request that the kill
        would land in and cancel (often before it reached the server). A longer wait is
        still cut by the kill."""
        if self._state == LOCUST_STATE_WAITING:
            self._state = LOCUST_STATE_STOPPING
            self.group.killone(self.greenlet)
            return True
        return super().stop(force)

    def _route(self, protocol: WireProtocol) -> tuple[str, dict[str, str]]:
        """The URL and headers of `protocol`'s calls (its auth headers, then --header's)."""
        settings = self.llm.settings
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        headers.update(settings.request_headers(protocol.name))
        return settings.base_url + protocol.path, headers

    def on_start(self) -> None:
        warm_connection(self.client, self._path)

    def messages(self) -> list[dict[str, Any]]:
        """The chat messages of the next request (default: the `--prompt`)."""
        return [{"role": "user", "content": self.llm.settings.prompt}]

    def new_stream(self) -> ChatStream:
        """The accumulator of the next response; override to read more of each chunk."""
        return self._active.new_stream()

    @task
    def chat(self) -> None:
        self.chat_completion(self.messages())

    @in_flight  # the in-flight gauge of /metrics (llm_load.locust.prometheus)
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
        input_tokens: int | None = None,
        api: str | None = None,
        turn: int | None = None,
    ) -> RequestRecord:
        """Send one chat completion, record it, and return its record.

        `model`, `max_tokens` and `temperature` default (when None) to the run's settings;
        `extra` adds body fields (e.g. `tools`); `grade` grades a successful response's tool
        calls; `name` is the Locust request name (default `chat MODEL`, after the protocol).
        `scheduled_at` (an open loop's intended send time, perf_counter s) is where latencies
        start when it is past. `input_tokens`: the prompt tokens asked for (recorded against
        what usage reports). `api` sends it with another row of the protocol table (a
        scenario model's `api:`) than the user's `protocol`. `turn`: the 1-based turn of a
        multi-turn conversation (recorded per request and in the summary's `by_turn`).
        The accumulated response stays available as `self.last_response`."""
        s = self.llm.settings
        self._use(PROTOCOLS[api] if api else self.protocol)
        max_tokens = s.max_tokens if max_tokens is None else max_tokens
        if s.exact_output:
            extra = {**exact_output_fields(max_tokens), **(extra or {})}
        call = Call(
            model=model or self.llm.model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=s.temperature if temperature is None else temperature,
            stream=s.stream and self._active.streams,
            extra=extra,
            input_tokens=input_tokens,
            batch=s.batch,
            turn=turn,
        )
        return self._call(call, name or f"{self._active.name} {call.model}", grade, scheduled_at)

    def _use(self, protocol: WireProtocol) -> None:
        """Make `protocol` the one of the next call (its URL and headers computed once)."""
        if protocol is not self._active:
            self._active = protocol
            self._path, self._headers = self._routes.get(protocol.name) or self._route(protocol)
            self._routes[protocol.name] = (self._path, self._headers)

    def _call(
        self,
        call: Call,
        name: str,
        grade: Callable[[ChatStream], str] | None,
        scheduled_at: float | None,
    ) -> RequestRecord:
        """Send → read → record → report one call."""
        self._poll_reactor()
        body = self._active.body(call)
        chat = self.last_response = self.new_stream()
        clock = self._start_clock(scheduled_at)
        self.llm.sending(clock.started_at)  # observers (the capacity search) see the send
        resp, retries, failure = self._exchange(call, body, chat, clock, name)
        graded = grade(chat) if grade is not None and failure is None else None
        record = self._record(call, chat, clock, failure, retries, graded)
        self._report(name, record, resp, clock)
        self._poll_reactor()
        return record

    def _poll_reactor(self) -> None:
        """Let the reactor read what arrived meanwhile (a burst of this process's own work
        must not hold back other streams' arrival stamps)."""
        if self._wire.reactor is not None:
            self._wire.reactor.poll_if_due()

    def _start_clock(self, scheduled_at: float | None) -> Clock:
        started_at, t0 = time.time(), perf_counter()
        if scheduled_at is not None:
            self.llm.arrival_sent(scheduled_at, t0)
            if scheduled_at < t0:  # late: the wait for a free user is part of the latency
                return Clock(started_at - (t0 - scheduled_at), scheduled_at)
        return Clock(started_at, t0)

    def _exchange(
        self, call: Call, body: dict[str, Any], chat: ChatStream, clock: Clock, name: str
    ) -> tuple[Any, int, tuple[str, str] | None]:
        """Send the body and read the answer into `chat`: (response, retries, failure)."""
        resp, retries = None, 0
        try:
            resp, retries = self._send(name, dumps(body))
            return resp, retries, self._read(resp, chat, clock.t0, call.stream)
        except (GreenletExit, KeyboardInterrupt):
            # The test is stopping (a Ctrl-C lands in whichever greenlet runs): count the
            # request apart, never as a failure, and let the stop go on.
            self._record(call, chat, clock, None, retries, cancelled=True)
            raise
        except Exception as error:  # any transport fault becomes a precise failure kind
            return resp, retries, (failure_kind(error), str(error) or type(error).__name__)

    def _report(self, name: str, record: RequestRecord, resp: Any, clock: Clock) -> None:
        """The Locust request event of the call (one per LLM call)."""
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
            start_time=clock.started_at,
            url=self._path,
        )

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
            # Locust's `data` hint omits bytes, which it sends as they are.
            "POST", self._path, name=name, data=data,  # type: ignore[arg-type]
            headers=self._headers,
            stream=True, catch_response=True,
        )  # fmt: skip

    def _read(self, resp: Any, chat: ChatStream, t0: float, stream: bool) -> tuple[str, str] | None:
        """Read the response into `chat`; an HTTP-level failure as (kind, message)."""
        if resp.status_code == 0:
            return self._transport_failure(getattr(resp, "error", None))
        if self._header_wait_s is not None:  # headers in: the body has the stall timeout
            set_read_timeout(resp, self.llm.settings.request_timeout_s)
        error_message = self._active.error_message
        if resp.status_code >= 300:
            return http_failure(resp, error_message)
        ctype = (resp.headers.get("content-type") or "").lower()
        if stream and "text/event-stream" in ctype:
            read_sse(resp, chat, t0, self._wire.reactor, self._first_token())
            return None
        body = read_body(resp)
        if stream:
            return "not_sse", f"expected text/event-stream, got {ctype!r}: {error_message(body)}"
        try:
            self._active.parse(chat, body)
        except ValueError:
            return "invalid_json", f"response is not JSON: {error_message(body)}"
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

    def _first_token(self) -> FirstToken | None:
        """The `--ttft-timeout` deadline of the current streamed request, if one is set."""
        timeout = self.llm.settings.ttft_timeout_s
        if timeout <= 0:
            return None
        return FirstToken(self._sent_s + timeout, timeout)

    def _record(
        self,
        call: Call,
        chat: ChatStream,
        clock: Clock,
        failure: tuple[str, str] | None,
        retries: int = 0,
        tool_grade: str | None = None,
        cancelled: bool = False,
    ) -> RequestRecord:
        """The call's record, added to the run's book (an echoed API key scrubbed)."""
        record = record_from_stream(
            chat,
            model=call.model,
            started_at=clock.started_at,
            e2e_s=perf_counter() - clock.t0,
            streamed=call.stream,
            failure=failure,
            cancelled=cancelled,
            connection_retries=retries,
            tool_grade=tool_grade,
            prompt_chars=sum(len(str(m.get("content") or "")) for m in call.messages),
            requested_input_tokens=call.input_tokens,
            turn=call.turn,
        )
        message = record.error_message
        if message:  # a server that echoes the key (or a secret header) back
            scrubbed = message
            for secret in self.llm.settings.secrets:
                scrubbed = scrub(scrubbed, secret)
            if scrubbed != message:
                record = replace(record, error_message=scrubbed)
        self.llm.add(record)
        return record
