"""The compare run's Locust user: our `LLMUser`, taking (model, pass) jobs from a board.

Requests go through `LLMUser.chat_completion` unchanged (same transport, TTFT/ITL
measurement, `RequestRecord` and `MetricsBook` as a load test). The subclass only looks
on: `BackendChatStream` also keeps the `backend` object a hosted API puts in its body or
chunks, and `Exchange` what `--debug` shows (request body, status, headers, error body).
"""

from __future__ import annotations

from locust.exception import StopUser

from dataclasses import dataclass, field
from typing import Any

from llm_load.core.wire.chat import ChatStream, json_loads
from llm_load.core.wire.errors import body_message
from llm_load.core.wire.protocols import CHAT
from llm_load.locust.user import LLMUser
from llm_load.locust.wire import MAX_ERROR_BODY, read_body

__all__ = ["BackendChatStream", "CompareUser", "Exchange"]

BACKEND_MARK = b'"backend"'


class BackendChatStream(ChatStream):
    """A `ChatStream` that also keeps the response's `backend` object (first one seen)."""

    __slots__ = ("backend",)

    def __init__(self) -> None:
        super().__init__()
        self.backend: Any = None

    def add(self, payload: bytes, t_s: float) -> None:
        if self.backend is None and BACKEND_MARK in payload:
            try:
                obj = json_loads(payload)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                self.backend = obj.get("backend")
        super().add(payload, t_s)

    def add_completion(self, obj: Any) -> None:
        if isinstance(obj, dict):
            self.backend = obj.get("backend")
        super().add_completion(obj)


@dataclass
class Exchange:
    """One request as sent and answered (headers lower-cased; status 0: no response)."""

    request_body: bytes = b""
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    error_body: bytes | None = None
    stream: BackendChatStream | None = None


class CompareUser(LLMUser):
    """Sends the compare prompt for each job of `environment.compare` until none is left."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.session = environment.compare
        self.exchange = Exchange()
        if not self.session.config.api_key:  # an empty --api-key sends none, as it says
            self._headers.pop("Authorization", None)

    def new_stream(self) -> ChatStream:
        if self._active is not CHAT:  # a hosted API's `backend` object is chat's
            self.exchange.stream = None
            return super().new_stream()
        stream = self.exchange.stream = BackendChatStream()
        return stream

    def _send(self, name: str, data: bytes) -> tuple[Any, int]:
        self.exchange.request_body = data
        return super()._send(name, data)

    def _read(self, resp: Any, chat: ChatStream, t0: float, stream: bool) -> tuple[str, str] | None:
        exchange = self.exchange
        exchange.status = resp.status_code
        if resp.status_code and resp.headers is not None:
            exchange.headers = {str(k).lower(): str(v) for k, v in resp.headers.items()}
        if resp.status_code >= 300 and self.session.config.debug:
            body = exchange.error_body = read_body(resp, MAX_ERROR_BODY)
            return f"http_{resp.status_code}", body_message(body)
        return super()._read(resp, chat, t0, stream)

    def run_job(self) -> None:
        """Send the next job's request; stop when the board has none left."""
        job = self.session.next_job()
        if job is None:
            raise StopUser()
        self.exchange = Exchange()
        record = None
        try:
            record = self.chat_completion(self.session.messages, model=job.model)
        finally:
            self.session.job_done(job, record, self.exchange)


# Only `run_job`: the inherited `chat` task would send requests outside the board.
CompareUser.tasks = [CompareUser.run_job]
