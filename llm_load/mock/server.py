"""The mock's HTTP/1.1 server: a minimal ``asyncio.Protocol`` and the OpenAI-compatible routes.

Routes: ``GET /health``, ``GET /v1/models``, ``POST /v1/chat/completions`` (and the other APIs:
``/v1/responses``, ``/v1/messages``, ``/v1/completions``, ``/v1/embeddings``, see
:mod:`llm_load.mock.apis`), ``POST /tokenize``
(:mod:`llm_load.mock.tokenize`), ``GET /stats`` (``?detail=1`` adds per-token offsets),
``POST /stats/reset`` and ``GET /metrics`` (Prometheus text in vLLM's names,
:mod:`llm_load.mock.metrics`). Only ``/v1/*`` requires the API
key. With ``root_path`` (``--root-path /api``) the ``/v1`` routes move to ``/api/v1/...``;
``/health`` and ``/stats`` stay at the root. ``prompt_tokens`` is a deterministic estimate: the
total number of characters of all message contents (string contents, plus the ``text`` of
list-of-parts contents) ``// 4 + 1``. Streamed tokens are scheduled with ``loop.call_at`` at
absolute times ``t_first + i * itl`` (one pending timer per stream, no drift); each token is
written as its own HTTP chunk.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs

from llm_load import kernel_stamps
from llm_load.mock import payload
from llm_load.mock.apis import api_routes
from llm_load.mock.chat import ChatCompletions
from llm_load.mock.config import MockConfig
from llm_load.mock.metrics import CONTENT_TYPE, MockMetrics
from llm_load.mock.payload import HttpError
from llm_load.mock.replies import Delayed, Stream
from llm_load.mock.slots import Waiting
from llm_load.mock.stamped_reads import StampedReader
from llm_load.mock.tokenize import tokenize_route
from llm_load.mock.truth import TruthStore

_perf = time.perf_counter
_log = logging.getLogger(__name__)
MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024


class Request:
    """A fully received HTTP request."""

    __slots__ = ("body", "headers", "keep_alive", "method", "path", "query", "received_at")

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.headers, self.body = method, headers, body
        self.path, _, self.query = target.partition("?")
        self.keep_alive = True
        self.received_at = _perf()


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Split a request head into method, target, version and lower-cased headers."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "Malformed request line", close=True)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise HttpError(400, "Malformed header line", close=True)
        headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], parts[2], headers


def body_length(headers: dict[str, str]) -> int:
    """Content-Length of the request body (chunked request bodies are refused)."""
    if "transfer-encoding" in headers:
        raise HttpError(411, "Chunked request bodies are not supported", close=True)
    raw = headers.get("content-length", "0")
    if not raw.isdigit():
        raise HttpError(400, "Invalid Content-Length", close=True)
    if int(raw) > MAX_BODY:
        raise HttpError(413, f"Request body larger than {MAX_BODY} bytes", close=True)
    return int(raw)


def _noop_write(_: bytes) -> None:
    """Stand-in for ``transport.write`` once the connection is gone."""


class MockProtocol(asyncio.Protocol):
    """One client connection: parses requests and serves them one at a time (keep-alive)."""

    def __init__(self, app: MockServer) -> None:
        self.app = app
        self.transport: asyncio.Transport | None = None
        self.write: Callable[[bytes], None] = _noop_write
        self.keep_alive = True
        self.reply: Stream | Delayed | Waiting | None = None
        self.error_body: Callable[[int, str, str], bytes] = payload.error_body  # route's shape
        self._buf = bytearray()
        self._busy = False
        self._draining = False
        self._continued = False
        self._reader: StampedReader | None = None
        self._arrived: float | None = None  # kernel stamp of the bytes being parsed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.write = self.transport.write
        self.app.connections.add(self)
        if self.app.kernel_stamps:
            self._reader = StampedReader.attach(transport, self._stamped_data, self._input_closed)

    def _stamped_data(self, data: bytes, arrived: float | None) -> None:
        if self.transport is not None and self.transport.is_reading():
            self.transport.pause_reading()  # uvloop started its reading after ours
        self._arrived = arrived
        try:
            self._received(data)
        finally:
            self._arrived = None

    def _input_closed(self, error: OSError | None) -> None:
        """What the transport does itself when it reads: EOF closes, an error aborts."""
        if self.transport is None:
            return
        if error is None:
            self.transport.close()
        else:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._reader is not None:
            self._reader.close()
        self.app.connections.discard(self)
        self.transport, self.write, self._busy = None, _noop_write, True
        if self.reply is not None:
            self.reply.abort()
            self.reply = None

    def data_received(self, data: bytes) -> None:
        if self._reader is not None and self.transport is not None:
            self.transport.pause_reading()  # uvloop read first: from now on, ours reads
        self._received(data)

    def _received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._drain()

    def _drain(self) -> None:
        """Serve buffered requests until one stays in flight or the buffer is incomplete."""
        self._draining = True
        try:
            while not self._busy:
                try:
                    req = self._next_request()
                except HttpError as err:
                    self._busy = True
                    self.send_error(err)
                    return
                if req is None:
                    return
                self._busy, self.keep_alive = True, req.keep_alive
                self.app.dispatch(self, req)
        finally:
            self._draining = False

    def _next_request(self) -> Request | None:
        """Pop one complete request off the buffer, or return None if more bytes are needed."""
        buf = self._buf
        while buf.startswith(b"\r\n"):
            del buf[:2]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise HttpError(431, "Request head too large", close=True)
            return None
        method, target, version, headers = parse_head(bytes(buf[:end]))
        total = end + 4 + body_length(headers)
        if len(buf) < total:
            if not self._continued and headers.get("expect", "").lower() == "100-continue":
                self._continued = True
                self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        req = Request(method, target, headers, bytes(buf[end + 4 : total]))
        if self._arrived is not None:  # when the kernel had it, not when we got round to it
            req.received_at = min(req.received_at, self._arrived)
        del buf[:total]
        self._continued = False
        conn = headers.get("connection", "").lower()
        req.keep_alive = "keep-alive" in conn if version == "HTTP/1.0" else "close" not in conn
        return req

    def finish(self, data: bytes) -> None:
        """Write the last bytes of a response, then close or serve the next buffered request."""
        self.reply, self.error_body = None, payload.error_body
        self.write(data)
        if self.transport is None:
            return
        if not self.keep_alive:
            self.transport.close()
            return
        self._busy = False
        if self._buf and not self._draining:
            self._drain()

    def drop(self) -> None:
        """Close the connection after what was written, mid-response (an injected fault)."""
        self.reply = None
        if self.transport is not None:
            self.transport.close()

    def send_error(self, err: HttpError, extra: bytes = b"") -> None:
        """Send an OpenAI-style error response."""
        self.keep_alive = self.keep_alive and not err.close
        body = err.body or self.error_body(err.status, err.message, err.kind)
        self.finish(payload.response(err.status, body, close=not self.keep_alive, extra=extra))

    def send_json(self, doc: Any, status: int = 200) -> None:
        """Send a JSON response."""
        self.finish(payload.json_response(status, doc, close=not self.keep_alive))


class MockServer:
    """The mock OpenAI-compatible server and its ground-truth store."""

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self.truth = TruthStore(config.max_records)
        self.connections: set[MockProtocol] = set()
        self.port = config.port
        self._server: asyncio.Server | None = None
        self.kernel_stamps = kernel_stamps.enabled()  # request arrivals from the kernel
        created = int(time.time())
        self._models = {
            "object": "list",
            "data": [
                {"id": m.name, "object": "model", "created": created,
                 "owned_by": "llm-load-mock", "max_model_len": config.max_model_len}
                for m in config.models
            ],
        }  # fmt: skip
        v1 = config.root_path + "/v1"
        chat = ChatCompletions(config, self.truth, self.check_auth)
        self._routes: dict[str, dict[str, Callable[[MockProtocol, Request], None]]] = {
            "/health": {"GET": lambda conn, _: conn.send_json({"status": "ok"})},
            v1 + "/models": {"GET": self._list_models},
            v1 + "/chat/completions": {"POST": chat},
            **api_routes(config, self.truth, self.check_auth, v1),
            "/stats": {"GET": self._stats},
            "/stats/reset": {"POST": self._reset},
            "/metrics": {"GET": self._metrics},
            config.root_path + "/tokenize": {"POST": tokenize_route(config.max_model_len)},
        }
        self.metrics = MockMetrics(self.truth, config.parallel)

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the bound socket."""
        host = self.config.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def start(self) -> int:
        """Bind and start listening; return the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: MockProtocol(self),
            self.config.host,
            self.config.port,
            backlog=self.config.backlog,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Stop listening and drop all connections."""
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        await self._server.wait_closed()
        self._server = None

    def dispatch(self, conn: MockProtocol, req: Request) -> None:
        """Route one request."""
        methods = self._routes.get(req.path)
        if methods is None:
            conn.send_error(HttpError(404, f"Not Found: {req.path}", "not_found_error"))
            return
        handler = methods.get(req.method)
        if handler is None:
            allow = b"Allow: %s\r\n" % ", ".join(methods).encode()
            conn.send_error(HttpError(405, "Method Not Allowed", "method_not_allowed"), allow)
            return
        conn.error_body = getattr(handler, "error_body", payload.error_body)  # its API's shape
        try:
            handler(conn, req)
        except HttpError as err:
            conn.send_error(err)
        except Exception:  # a bug: answer 500 instead of leaving the connection hanging
            _log.exception("error while serving %s %s", req.method, req.path)
            conn.send_error(HttpError(500, "Internal Server Error", "InternalServerError", True))

    def check_auth(self, req: Request) -> None:
        """Raise a 401 :class:`HttpError` unless the request carries the API key (if any)."""
        key = self.config.api_key
        if key is None:
            return
        header = req.headers.get("authorization")
        if header is None:
            message = "Missing API key: send 'Authorization: Bearer <key>'"
        else:
            scheme, _, token = header.partition(" ")
            bearer, token = scheme.lower() == "bearer", token.strip()
            if bearer and not token:
                message = "Empty API key"
            elif bearer and hmac.compare_digest(token.encode(), key.encode()):
                return
            else:
                message = "Invalid API key"
        raise HttpError(401, message, "authentication_error")

    def _list_models(self, conn: MockProtocol, req: Request) -> None:
        self.check_auth(req)
        conn.send_json(self._models)

    def _stats(self, conn: MockProtocol, req: Request) -> None:
        detail = parse_qs(req.query).get("detail", ["0"])[-1].lower() in ("1", "true", "yes")
        conn.send_json(self.truth.snapshot(detail))

    def _metrics(self, conn: MockProtocol, req: Request) -> None:
        body = self.metrics.render(self.connections)
        conn.finish(payload.response(200, body, close=not conn.keep_alive, ctype=CONTENT_TYPE))

    def _reset(self, conn: MockProtocol, req: Request) -> None:
        conn.send_json({"status": "ok", "cleared": self.truth.reset()})


def _loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when requested and importable, else the stdlib default."""
    if not use_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def serve(
    config: MockConfig,
    on_ready: Callable[[MockServer], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a :class:`MockServer` until ``stop`` is set or SIGINT/SIGTERM arrives."""
    server = MockServer(config)
    await server.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            signals.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
            pass
    try:
        if on_ready is not None:
            on_ready(server)
        await stop.wait()
    finally:
        await server.close()
        for sig in signals:
            loop.remove_signal_handler(sig)


def run(config: MockConfig, on_ready: Callable[[MockServer], None] | None = None) -> None:
    """Blocking entry point: event loop (uvloop unless disabled) + :func:`serve`."""
    with asyncio.Runner(loop_factory=_loop_factory(config.use_uvloop)) as runner:
        runner.run(serve(config, on_ready))
