"""Chat completions: request validation, then a timed reply (:mod:`llm_load.mock.replies`).

A valid request is recorded in the truth, may get an injected fault
(:mod:`llm_load.mock.faults`), and is then answered by a streamed or a non-streamed reply,
at once or, with ``--parallel``, once it has a generation slot.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from llm_load.mock import payload
from llm_load.mock.config import (
    DEFAULT_REPLY_TOKENS,
    MAX_REPLY_TOKENS,
    MockConfig,
    MockModel,
)
from llm_load.mock.faults import Fault, Faults
from llm_load.mock.payload import HttpError
from llm_load.mock.prefix_cache import PrefixCache, prompt_text, with_cached
from llm_load.mock.reasoning import add_reasoning, reasoning_message, with_reasoning
from llm_load.mock.replies import Delayed, Stream
from llm_load.mock.slots import Slots
from llm_load.mock.tools import ToolResponder
from llm_load.mock.truth import TruthRecord, TruthStore, history_digests

if TYPE_CHECKING:
    from llm_load.mock.server import MockProtocol, Request

_perf = time.perf_counter


class ChatJob:
    """A validated chat-completion request."""

    __slots__ = (
        "deltas",
        "include_usage",
        "model",
        "n",
        "prompt_tokens",
        "reason",
        "reasoning",
        "stream",
        "tool_calls",
    )

    def __init__(
        self, model: MockModel, data: dict[str, Any], tokens: int | None, chars: int
    ) -> None:
        cap = read_cap(data)
        self.model, self.prompt_tokens = model, chars // 4 + 1
        self.n, self.reason = reply_length(cap, tokens)
        self.n, self.reason = exact_length(data, self.n, self.reason, cap)
        stream = data.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise HttpError(400, "'stream' must be a boolean")
        self.stream = bool(stream)
        options = data.get("stream_options")
        self.include_usage = (
            self.stream and isinstance(options, dict) and options.get("include_usage") is True
        )
        self.tool_calls: list[dict[str, Any]] | None = None
        self.deltas: tuple[bytes, ...] = payload.TOKEN_DELTAS
        self.reasoning = 0  # reasoning tokens before the answer (--reasoning-tokens)

    def call_tools(self, calls: list[dict[str, Any]], deltas: tuple[bytes, ...]) -> None:
        """Answer with tool calls (streamed as ``deltas``, one token each) instead of text."""
        self.tool_calls, self.deltas = calls, deltas
        self.n, self.reason = len(deltas), "tool_calls"


def reply_length(cap: int | None, tokens: int | None) -> tuple[int, str]:
    """(tokens, finish_reason) of a reply: with ``--tokens`` the model stops by itself after
    that many (``stop``) unless ``cap`` cuts it (``length``); without, it runs to ``cap`` up to
    ``MAX_REPLY_TOKENS`` (``length``), or ``DEFAULT_REPLY_TOKENS`` without a cap (``stop``)."""
    if tokens is None:
        if cap is None:
            return DEFAULT_REPLY_TOKENS, "stop"
        return min(cap, MAX_REPLY_TOKENS), "length"
    if cap is not None and cap < tokens:
        return cap, "length"
    return tokens, "stop"


def read_cap(data: dict[str, Any]) -> int | None:
    """``max_completion_tokens`` (preferred) or ``max_tokens``, validated."""
    for key in ("max_completion_tokens", "max_tokens"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise HttpError(400, f"'{key}' must be a positive integer")
        return value
    return None


def exact_length(data: dict[str, Any], n: int, reason: str, cap: int | None) -> tuple[int, str]:
    """(tokens, finish reason) with vLLM's exact-length fields: `ignore_eos: true` runs to
    the cap; `min_tokens` (at most the cap) raises a shorter reply."""
    if cap is None:
        return n, reason
    if data.get("ignore_eos") is True:
        return cap, "length"
    low = data.get("min_tokens")
    if isinstance(low, int) and not isinstance(low, bool) and n < low:
        n = min(low, cap)
        return n, "length" if n == cap else reason
    return n, reason


def prompt_chars(messages: Any) -> int:
    """Validate ``messages`` and count the characters of their contents."""
    if not isinstance(messages, list) or not messages:
        raise HttpError(400, "'messages' is required and must be a non-empty list")
    total = 0
    for msg in messages:
        if not isinstance(msg, dict):
            raise HttpError(400, "each entry of 'messages' must be an object")
        content = msg.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(
                len(p["text"])
                for p in content
                if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
    return total


def mentions(messages: list[Any], word: str) -> bool:
    """Whether any message's text contains ``word`` (case-insensitive)."""
    word = word.lower()
    for msg in messages:
        content = msg.get("content")
        parts = content if isinstance(content, list) else [{"text": content}]
        for part in parts:
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and word in text.lower():
                return True
    return False


def load_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, f"Invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise HttpError(400, "Request body must be a JSON object")
    return data


class ChatCompletions:
    """``POST /v1/chat/completions``: validate, record, and schedule the reply."""

    def __init__(
        self, config: MockConfig, truth: TruthStore, check_auth: Callable[[Request], None]
    ) -> None:
        self.config, self.truth, self.check_auth = config, truth, check_auth
        self.tools = ToolResponder(config, truth)
        self._rng = random.Random(config.seed)
        self._jit = self._jitter if config.jitter > 0 else None
        self._backend = payload.backend_object(config.backend) if config.backend else None
        self.slots = Slots(config.parallel)
        self.faults = Faults.from_config(config, truth)
        self.prefix_cache = PrefixCache() if config.prompt_tokens_details else None

    def _jitter(self) -> float:
        j = self.config.jitter
        return self._rng.uniform(1.0 - j, 1.0 + j)

    def __call__(self, conn: MockProtocol, req: Request) -> None:
        record = self.truth.new(req.received_at)
        try:
            job = self._parse(req, record)
        except HttpError as err:
            record.status, record.end_at = err.status, _perf()
            conn.send_error(err)
            return
        record.status = 200
        fault = None if self.faults is None else self.faults.pick(job.n)
        if fault is not None and fault.status:
            self._faults().reject(conn, record, fault)
        elif job.stream:
            self._stream(conn, record, job, fault)
        else:
            self._delayed(conn, record, job, fault)

    def _parse(self, req: Request, record: TruthRecord) -> ChatJob:
        self.check_auth(req)
        data = self.chat_data(load_object(req.body), record)
        name = data.get("model")
        if name is not None and not isinstance(name, str):
            raise HttpError(400, "'model' must be a string")
        record.model = name or ""
        model = self.config.model(name)
        if model is None:
            raise HttpError(404, f"The model `{name}` does not exist.", "NotFoundError")
        record.model = model.name
        record.prompt_chars = prompt_chars(data.get("messages"))
        record.messages = len(data["messages"])
        record.history = history_digests(data["messages"])
        if self.prefix_cache is not None:
            record.cached_tokens = self.prefix_cache.serve(prompt_text(data["messages"]))
        blocked = self.config.block_prompt
        if blocked is not None and mentions(data["messages"], blocked):
            raise HttpError(403, "Prompt blocked for security reasons", "content_filter")
        job = ChatJob(model, data, self.config.tokens, record.prompt_chars)
        record.stream = job.stream
        reply = self.tools.respond(data, record)
        if reply is not None:
            job.call_tools(*reply)
        if not self.config.usage:
            job.include_usage = False
        if self.config.reasoning_tokens:
            job.reasoning = add_reasoning(job, self.config.reasoning_tokens, read_cap(data))
            record.reasoning_tokens = job.reasoning
        return job

    def chat_data(self, data: dict[str, Any], record: TruthRecord) -> dict[str, Any]:
        """The chat request a request body amounts to (another API's handler converts it)."""
        return data

    def frames(
        self, record: TruthRecord, job: ChatJob, use: dict[str, Any] | None
    ) -> payload.StreamFrames:
        """All bytes of the streamed reply to `job`."""
        return payload.StreamFrames(
            record.id, int(time.time()), job.model.name, job.n, job.reason, use, job.deltas,
            self._backend,
        )  # fmt: skip

    def body(self, record: TruthRecord, job: ChatJob, use: dict[str, Any] | None) -> bytes:
        """The JSON body of the non-streamed reply to `job`."""
        message = None
        if job.tool_calls is not None:
            message = {"role": "assistant", "content": None, "tool_calls": job.tool_calls}
        elif job.reasoning:
            message = reasoning_message(job)
        return payload.completion_body(
            record.id, int(time.time()), job.model.name, job.n, job.reason, use, message,
            self._backend,
        )  # fmt: skip

    def _faults(self) -> Faults:
        assert self.faults is not None, "a fault was picked, so faults are configured"
        return self.faults

    def _factor(self) -> float:
        return 1.0 if self._jit is None else self._jit()

    def _stream(
        self, conn: MockProtocol, record: TruthRecord, job: ChatJob, fault: Fault | None
    ) -> None:
        use = payload.usage(job.prompt_tokens, job.n) if job.include_usage else None
        use = with_reasoning(with_cached(use, record.cached_tokens), job.reasoning)
        frames = self.frames(record, job, use)
        args = (conn, record, frames, job.model.itl_ms / 1e3, self._jit)
        stream = Stream(*args) if fault is None else self._faults().stream(fault, *args)
        conn.reply = stream
        ttft = job.model.ttft_ms / 1e3 * self._factor()
        self._start(conn, stream, record, lambda waited: stream.start(ttft + waited))

    def _start(
        self,
        conn: MockProtocol,
        reply: Stream | Delayed,
        record: TruthRecord,
        start: Callable[[float], None],
    ) -> None:
        """Start `reply` (`start(waited_s)`) now or, with --parallel, once it has a slot."""
        if not self.slots.limit:
            start(0.0)
            return
        reply.on_done = self.slots.release
        waiting = self.slots.acquire(lambda: start(0.0))
        if waiting is not None:
            conn.reply = waiting
            waiting.start = partial(_dequeued, conn, reply, record, start)

    def _delayed(
        self, conn: MockProtocol, record: TruthRecord, job: ChatJob, fault: Fault | None
    ) -> None:
        use = payload.usage(job.prompt_tokens, job.n) if self.config.usage else None
        use = with_reasoning(with_cached(use, record.cached_tokens), job.reasoning)
        body = self.body(record, job, use)
        head = payload.backend_header(self._backend)
        args = (conn, record, payload.response(200, body, close=not conn.keep_alive, extra=head))
        reply = (
            Delayed(*args, job.n) if fault is None else self._faults().delayed(fault, *args, job.n)
        )
        conn.reply = reply
        itl = job.model.itl_ms / 1e3
        delay = job.model.ttft_ms / 1e3 * self._factor()
        delay += sum(itl * self._factor() for _ in range(job.n - 1))
        self._start(conn, reply, record, lambda waited: reply.start(delay + waited))


def _dequeued(
    conn: MockProtocol, reply: Stream | Delayed, record: TruthRecord, start: Callable[[float], None]
) -> None:
    """A queued reply got its slot: its delays count from now."""
    conn.reply = reply
    start(_perf() - record.received_at)
