"""Fault injection for the mock: HTTP errors, dropped connections and stalls, chosen per request.

``--error-rate R`` answers a share R of the valid chat requests at once with ``--error-status``
(default 503; an OpenAI-style error body; a 429 also gets ``Retry-After: 1``); ``--drop-rate R``
closes the connection after a random number k of tokens (0 <= k < N, so the stream never
completes; a non-streamed reply's connection closes when its body was due); ``--stall-rate R``
stops sending for ``--stall-s`` seconds when token k is due, then goes on, so the client's
``--request-timeout`` decides; ``--stream-error-rate R`` ends a streamed reply when token k is
due with the API's in-stream error event (chat and completions: an error chunk and
``[DONE]``, as vLLM does; Responses: an ``error`` event; Messages: ``overloaded_error``; a
non-streamed request drawn for it is served normally). One seeded draw per request (in arrival
order) picks its fault: the same seed and request order give the same faults. A fault is written
to the request's truth record (``fault``) and counted in the truth's ``faults`` when the mock
carries it out, so a client that went away first is never blamed on a fault it did not see.
Requests without a fault are served by the plain replies: a fault costs nothing per chunk to the
others.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm_load.mock.config import MockConfig
from llm_load.mock.payload import HttpError, reason_phrase
from llm_load.mock.replies import Delayed, Stream, done
from llm_load.mock.truth import TruthRecord, TruthStore

if TYPE_CHECKING:
    from llm_load.mock.server import MockProtocol

__all__ = ["DROPPED", "STALLED", "STREAM_ERROR", "Fault", "FaultPicker", "Faults", "injected_error"]

DROPPED = "dropped"
STALLED = "stalled"
STREAM_ERROR = "stream_error"
_ERRORS = {
    429: ("Rate limit reached: too many requests, retry after 1 s", "RateLimitError"),
    500: ("Internal server error", "InternalServerError"),
    502: ("Bad gateway: the upstream model server did not answer", "BadGatewayError"),
    503: ("Service unavailable: the server is overloaded, try again later",
          "ServiceUnavailableError"),
    504: ("Gateway timeout: the upstream model server took too long", "GatewayTimeoutError"),
}  # fmt: skip
_perf = time.perf_counter


@dataclass(frozen=True, slots=True)
class Fault:
    """One request's fault: ``kind`` (``http_<status>``, ``dropped``, ``stalled``), ``status``
    (the HTTP status of an error, else 0) and ``at`` (tokens written before a drop or stall)."""

    kind: str
    status: int = 0
    at: int = 0


class FaultPicker:
    """Draws each request's fault (or None) from a random stream seeded with ``seed``."""

    __slots__ = ("_drop", "_error", "_rng", "_stall", "_stream_error", "status")

    def __init__(
        self,
        error_rate: float,
        drop_rate: float,
        stall_rate: float,
        status: int,
        seed: int,
        stream_error_rate: float = 0.0,
    ) -> None:
        self._error = error_rate
        self._drop = error_rate + drop_rate
        self._stall = self._drop + stall_rate
        self._stream_error = self._stall + stream_error_rate
        self.status = status
        # Its own stream: turning faults on leaves the --jitter draws as they were.
        self._rng = random.Random(f"llm-load-mock-faults/{seed}")

    @classmethod
    def from_config(cls, config: MockConfig) -> FaultPicker | None:
        """The picker of ``config``, or None when it configures no fault."""
        if not (config.error_rate or config.drop_rate or config.stall_rate) and not (
            config.stream_error_rate
        ):
            return None
        c = config
        rates = (c.error_rate, c.drop_rate, c.stall_rate)
        return cls(*rates, c.error_status, c.seed, c.stream_error_rate)

    def pick(self, tokens: int) -> Fault | None:
        """The fault of the next request, which would write ``tokens`` (>= 1) tokens."""
        u = self._rng.random()
        if u >= self._stream_error:
            return None
        if u < self._error:
            return Fault(f"http_{self.status}", self.status)
        at = self._rng.randrange(max(tokens, 1))
        kind = DROPPED if u < self._drop else STALLED if u < self._stall else STREAM_ERROR
        return Fault(kind, 0, at)


def injected_error(status: int) -> tuple[HttpError, bytes]:
    """The error of ``--error-status STATUS`` and its extra header lines (429: Retry-After)."""
    message, kind = _ERRORS.get(status, (reason_phrase(status), "APIError"))
    extra = b"Retry-After: 1\r\n" if status == 429 else b""
    return HttpError(status, f"{message} (injected by llm-load mock)", kind), extra


def _mark(record: TruthRecord, truth: TruthStore, kind: str) -> None:
    record.fault = kind
    truth.count_fault(kind)


def _drop(reply: Stream | Delayed, truth: TruthStore) -> None:
    """Close the reply's connection after what was written, as a crashing server would."""
    reply.handle = None
    record = reply.record
    _mark(record, truth, DROPPED)
    if record.offsets:
        record.end_at = record.offsets[-1]
    reply.conn.drop()
    done(reply)


class DroppedStream(Stream):
    """A stream whose connection closes when token ``at`` is due."""

    __slots__ = ("at", "truth")
    at: int
    truth: TruthStore

    def tick(self) -> None:
        if self.i == self.at:
            _drop(self, self.truth)
        else:
            Stream.tick(self)


class StalledStream(Stream):
    """A stream that stops for ``stall_s`` seconds when token ``at`` is due, then goes on."""

    __slots__ = ("at", "stall_s", "truth")
    at: int
    stall_s: float
    truth: TruthStore

    def tick(self) -> None:
        if self.i != self.at:
            Stream.tick(self)
            return
        self.at = -1  # once
        _mark(self.record, self.truth, STALLED)
        self.due += self.stall_s
        self.handle = self.call_at(self.due, self.tick)


class ErroredStream(Stream):
    """A stream that ends with its API's in-stream error event when token ``at`` is due."""

    __slots__ = ("at", "truth")
    at: int
    truth: TruthStore

    def tick(self) -> None:
        if self.i != self.at:
            Stream.tick(self)
            return
        self.handle = None
        _mark(self.record, self.truth, STREAM_ERROR)
        self.record.end_at = _perf()
        self.conn.finish(self.frames.error)
        done(self)


class DroppedDelayed(Delayed):
    """A non-streamed reply whose connection closes when the body is due."""

    __slots__ = ("truth",)
    truth: TruthStore

    def fire(self) -> None:
        _drop(self, self.truth)


class StalledDelayed(Delayed):
    """A non-streamed reply written ``stall_s`` seconds after it was due."""

    __slots__ = ("stall_s", "truth")
    stall_s: float
    truth: TruthStore

    def fire(self) -> None:
        if self.stall_s < 0:
            Delayed.fire(self)
            return
        _mark(self.record, self.truth, STALLED)
        loop = asyncio.get_running_loop()
        self.handle = loop.call_at(loop.time() + self.stall_s, self.fire)
        self.stall_s = -1.0  # once


class Faults:
    """The faults of one server: picks them and builds the replies that carry them out."""

    def __init__(self, picker: FaultPicker, stall_s: float, truth: TruthStore) -> None:
        self.pick, self.stall_s, self.truth = picker.pick, stall_s, truth

    @classmethod
    def from_config(cls, config: MockConfig, truth: TruthStore) -> Faults | None:
        """The faults of ``config`` (None when it configures none)."""
        picker = FaultPicker.from_config(config)
        return None if picker is None else cls(picker, config.stall_s, truth)

    def reject(self, conn: MockProtocol, record: TruthRecord, fault: Fault) -> None:
        """Answer with the injected HTTP error now."""
        record.status, record.end_at = fault.status, _perf()
        _mark(record, self.truth, fault.kind)
        conn.send_error(*injected_error(fault.status))

    def stream(self, fault: Fault, *args: Any) -> Stream:
        """A :class:`Stream` (same arguments) that carries out ``fault``."""
        stream: DroppedStream | StalledStream | ErroredStream
        if fault.kind == DROPPED:
            stream = DroppedStream(*args)
        elif fault.kind == STREAM_ERROR:
            stream = ErroredStream(*args)
        else:
            stream = StalledStream(*args)
            stream.stall_s = self.stall_s
        stream.at, stream.truth = fault.at, self.truth
        return stream

    def delayed(self, fault: Fault, *args: Any) -> Delayed:
        """A :class:`Delayed` (same arguments) that carries out ``fault``."""
        reply: DroppedDelayed | StalledDelayed
        if fault.kind == STREAM_ERROR:  # a non-streamed reply has no stream to break
            return Delayed(*args)
        if fault.kind == DROPPED:
            reply = DroppedDelayed(*args)
        else:
            reply = StalledDelayed(*args)
            reply.stall_s = self.stall_s
        reply.truth = self.truth
        return reply
