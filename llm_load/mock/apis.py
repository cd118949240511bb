"""The mock's routes for the other APIs: ``/v1/responses``, ``/v1/messages``,
``/v1/completions`` and ``/v1/embeddings``, next to chat completions.

Each is the chat handler (:class:`~llm_load.mock.chat.ChatCompletions`: model lookup, truth,
tool cases, faults, ``--parallel`` slots, TTFT/ITL pacing) with the request read as the chat
request it amounts to (:mod:`llm_load.mock.api_requests`) and the reply framed in the API's
own events and bodies (:mod:`llm_load.mock.api_frames`); its truth record says its ``api``.
``--reasoning-tokens`` applies to chat only.
``/v1/messages`` also accepts Anthropic's ``x-api-key`` and answers errors in Anthropic's
shape. Embeddings are never streamed: one body after the model's TTFT, with ``EMBEDDING_DIM``
deterministic numbers per input (the truth counts the ``inputs``; no output tokens).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from llm_load.mock.api_frames import FRAMINGS, Framing, Reply, frames
from llm_load.mock.api_requests import (
    completions_chat,
    embedding_inputs,
    messages_chat,
    responses_chat,
)
from llm_load.mock.chat import ChatCompletions, ChatJob
from llm_load.mock.config import MockConfig
from llm_load.mock.payload import HttpError, StreamFrames
from llm_load.mock.truth import TruthRecord, TruthStore

if TYPE_CHECKING:
    from llm_load.mock.server import MockProtocol, Request

__all__ = ["EMBEDDING_DIM", "ApiCompletions", "Embeddings", "api_routes"]

EMBEDDING_DIM = 64
Handler = Callable[["MockProtocol", "Request"], None]
_TO_CHAT = {"responses": responses_chat, "messages": messages_chat, "completions": completions_chat}


class ApiCompletions(ChatCompletions):
    """A generating API other than chat: chat's handling, the API's framing."""

    def __init__(
        self,
        config: MockConfig,
        truth: TruthStore,
        check_auth: Callable[[Request], None],
        framing: Framing,
    ) -> None:
        super().__init__(replace(config, reasoning_tokens=0), truth, check_auth)  # chat's only
        self.framing, self.error_body = framing, framing.error_body
        self._to_chat = _TO_CHAT[framing.name]

    def chat_data(self, data: dict[str, Any], record: TruthRecord) -> dict[str, Any]:
        record.api = self.framing.name
        return self._to_chat(data)

    def _parse(self, req: Request, record: TruthRecord) -> ChatJob:
        job = super()._parse(req, record)
        if job.tool_calls is not None:  # one token per event of this API's framing
            job.call_tools(job.tool_calls, self.framing.call_events(record.id, job.tool_calls))
        return job

    def frames(self, record: TruthRecord, job: ChatJob, use: dict[str, Any] | None) -> StreamFrames:
        created, name = int(time.time()), job.model.name
        reply = Reply(job.n, job.reason, use, job.tool_calls)
        if job.tool_calls is not None:
            events = job.deltas
        else:
            events = self.framing.text_events(record.id, name, created)
        return frames(self.framing, record.id, name, created, reply, events)

    def body(self, record: TruthRecord, job: ChatJob, use: dict[str, Any] | None) -> bytes:
        reply = Reply(job.n, job.reason, use, job.tool_calls)
        return self.framing.body(record.id, job.model.name, int(time.time()), reply)


@lru_cache(maxsize=1024)
def vector(index: int) -> bytes:
    """The JSON embedding of input ``index``: ``EMBEDDING_DIM`` numbers in [-1, 1)."""
    return orjson.dumps([((index * 7919 + k * 104729) % 2000 - 1000) / 1000 for k in range(64)])


class Embeddings(ChatCompletions):
    """``POST /v1/embeddings``: one vector per input, after the model's TTFT."""

    def chat_data(self, data: dict[str, Any], record: TruthRecord) -> dict[str, Any]:
        inputs = embedding_inputs(data)
        record.api, record.inputs = "embeddings", len(inputs)
        messages = [{"role": "user", "content": text} for text in inputs]
        return {"model": data.get("model"), "messages": messages, "stream": False}

    def _parse(self, req: Request, record: TruthRecord) -> ChatJob:
        job = super()._parse(req, record)
        job.n, job.reason = 0, "stop"  # no output tokens: the body is due after the TTFT
        return job

    def body(self, record: TruthRecord, job: ChatJob, use: dict[str, Any] | None) -> bytes:
        data = b",".join(
            b'{"object":"embedding","index":%d,"embedding":%s}' % (i, vector(i))
            for i in range(record.inputs)
        )
        usage = b""
        if use is not None:
            tokens = use["prompt_tokens"]
            usage = b',"usage":{"prompt_tokens":%d,"total_tokens":%d}' % (tokens, tokens)
        model = orjson.dumps(job.model.name)
        return b'{"object":"list","model":%s,"data":[%s]%s}' % (model, data, usage)


def anthropic_auth(
    config: MockConfig, check_auth: Callable[[Request], None]
) -> Callable[[Request], None]:
    """``check_auth`` that also takes the key in Anthropic's ``x-api-key`` header."""

    def check(req: Request) -> None:
        key = req.headers.get("x-api-key")
        if key is None or config.api_key is None:
            check_auth(req)
        elif not hmac.compare_digest(key.encode(), config.api_key.encode()):
            raise HttpError(401, "invalid x-api-key", "authentication_error")

    return check


def api_routes(
    config: MockConfig, truth: TruthStore, check_auth: Callable[[Request], None], v1: str
) -> dict[str, dict[str, Handler]]:
    """The routes of the four other APIs under ``v1`` (``ROOT_PATH/v1``)."""
    routes: dict[str, dict[str, Handler]] = {}
    for framing in FRAMINGS.values():
        auth = anthropic_auth(config, check_auth) if framing.name == "messages" else check_auth
        routes[v1 + framing.path] = {"POST": ApiCompletions(config, truth, auth, framing)}
    routes[v1 + "/embeddings"] = {"POST": Embeddings(config, truth, check_auth)}
    return routes
