"""A tiny raw-socket HTTP server that misbehaves on purpose, for fault tests.

Each connection reads one request and answers according to `mode`:
`stall` (one token, then silence), `close` (two tokens, then the connection drops without
the chunked terminator), `not_sse` (200 with a JSON body to a streaming request), `html500`
(500 with an HTML page), `error_event` (an in-stream error object then [DONE]),
`error_field` (older llama.cpp: a token, then `error: {...}` as an SSE field, then [DONE]),
`no_finish` (two tokens and [DONE], but no `finish_reason` on any choice),
`keepalive_drop` (a complete response; the next request on that kept-alive connection is
read and the connection closed unanswered, as when a server's keep-alive timeout fires
just as the client reuses the connection), `ok` (a correct stream, or a JSON completion
when the request says `"stream": false`), `status` (HTTP errors: the statuses of
`statuses` in turn, each with the body `shape`, a 429 with `Retry-After` unless
`retry_after` is empty), `echo_key` (401 whose message repeats the request's bearer key),
`role_wait` (headers and a role-only chunk, then silence), `late_headers` (silence before
any headers), `gzip` / `deflate` / `br` (the `ok` answer sent with that Content-Encoding
although we asked for identity: really compressed, flushed per event, for gzip and deflate),
`split` (chunked framing cut inside SSE lines and inside UTF-8 characters, each piece sent
apart), `until_close` (an SSE body without length or chunking, ended by closing).
`GET /v1/models` always lists the model `m`. With `tls` (an `ssl.SSLContext`) it speaks
HTTPS.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
import zlib
from collections import Counter

ROLE = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
FINISH = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
# Tokens of the `ok`-family streams: multi-byte UTF-8 on purpose (2, 3 and 4 bytes).
TOKENS = ("Grüße", " aus", " 東京", " 🤖", "!")
TEXT = "".join(TOKENS)
SHAPES = ("openai", "string", "detail", "message", "text", "html", "empty")


def token(text: str) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


def sse_event(obj: dict | str) -> bytes:
    payload = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def sse_chunk(obj: dict | str) -> bytes:
    return chunk(sse_event(obj))


def ok_events() -> list[bytes]:
    """The events of a correct stream of `TOKENS` (no usage: tokens are counted)."""
    return [sse_event(e) for e in (ROLE, *map(token, TOKENS), FINISH, "[DONE]")]


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)
COMPLETION = {
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}
    ]
}


def plain(status: str, ctype: str, body: bytes, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode() + body


def error_body(shape: str, message: str) -> tuple[str, bytes]:
    """(content type, body) of an error response in one of the common `SHAPES`."""
    if shape == "openai":
        doc: object = {"error": {"message": message, "type": "invalid_request_error"}}
    elif shape in ("string", "detail", "message"):
        doc = {{"string": "error"}.get(shape, shape): message}
    elif shape == "text":
        return "text/plain", message.encode()
    elif shape == "html":
        page = f"<html><head><title>{message}</title></head><body><h1>x</h1></body></html>"
        return "text/html", page.encode()
    else:
        return "text/plain", b""
    return "application/json", json.dumps(doc).encode()


def compressor(coding: str) -> zlib._Compress:
    return zlib.compressobj(wbits=31 if coding == "gzip" else 15)


class Request:
    """The parts of a request the answers look at."""

    def __init__(self, head: bytes, body: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        self.method, self.path = lines[0].split(" ")[:2]
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        try:
            self.stream = json.loads(body or b"{}").get("stream", True)
        except ValueError:
            self.stream = True


class FaultServer:
    """Serves one fault mode on 127.0.0.1 from a background thread."""

    def __init__(
        self,
        mode: str,
        stall_s: float = 30.0,
        *,
        statuses: tuple[int, ...] = (500,),
        shape: str = "openai",
        retry_after: str = "2",
        delay_s: float = 0.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.mode = mode
        self.stall_s = stall_s
        self.statuses, self.shape, self.retry_after = statuses, shape, retry_after
        self.delay_s = delay_s  # before each answer (bounds the request rate)
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.sock.getsockname()[1]
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.requests = 0
        self.by_status: Counter[int] = Counter()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # clients reset connections at test stop
            conn.settimeout(None)  # the listener's accept timeout must not carry over
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                for served in range(2):
                    req = self._read_request(conn)
                    if req is None:
                        return
                    if served == 1:  # keepalive_drop: the second request on a connection is
                        return  # read, then dropped unanswered, as at a keep-alive timeout race
                    self._dispatch(conn, req)
                    if self.mode != "keepalive_drop":
                        return

    @staticmethod
    def _read_request(conn: socket.socket) -> Request | None:
        """Read one request (headers and Content-Length body); None at end of stream."""
        data = b""
        while b"\r\n\r\n" not in data:
            part = conn.recv(65536)
            if not part:
                return None
            data += part
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(body) < length:
            part = conn.recv(65536)
            if not part:
                return None
            body += part
        return Request(head, body)

    def _dispatch(self, conn: socket.socket, req: Request) -> None:
        if req.method == "GET" and req.path.endswith("/models"):
            models = {"object": "list", "data": [{"id": "m", "object": "model"}]}
            conn.sendall(plain("200 OK", "application/json", json.dumps(models).encode()))
            return
        if req.method == "GET":  # e.g. the run's /metrics scrape: not a chat call, no fault
            conn.sendall(plain("404 Not Found", "application/json", b'{"detail":"Not Found"}'))
            return
        self.requests += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        answer = getattr(self, f"_answer_{self.mode}", None)
        if answer is not None:
            answer(conn, req)
        else:
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        if self.mode == "not_sse":
            conn.sendall(plain("200 OK", "application/json", b'{"choices": []}'))
        elif self.mode == "html500":
            page = (
                b"<html><head><title>500 Internal Server Error</title></head><body>x</body></html>"
            )
            conn.sendall(plain("500 Internal Server Error", "text/html", page))
        elif self.mode == "error_event":
            err = {"error": {"message": "KV cache exhausted", "code": 503}}
            conn.sendall(SSE_HEAD + sse_chunk(ROLE) + sse_chunk(token("a")) + sse_chunk(err))
            conn.sendall(sse_chunk("[DONE]") + b"0\r\n\r\n")
        elif self.mode == "error_field":
            err = b'error: {"code":500,"message":"context shift is disabled","type":"server_error"}'
            conn.sendall(SSE_HEAD + sse_chunk(ROLE) + sse_chunk(token("a")) + chunk(err + b"\n\n"))
            conn.sendall(sse_chunk("[DONE]") + b"0\r\n\r\n")
        elif self.mode == "no_finish":
            body = sse_chunk(ROLE) + sse_chunk(token("a")) + sse_chunk(token("b"))
            conn.sendall(SSE_HEAD + body + sse_chunk("[DONE]") + b"0\r\n\r\n")
        elif self.mode == "keepalive_drop":
            body = sse_chunk(ROLE) + sse_chunk(token("a")) + sse_chunk(FINISH)
            conn.sendall(SSE_HEAD + body + sse_chunk("[DONE]") + b"0\r\n\r\n")
        elif self.mode == "stall":
            conn.sendall(SSE_HEAD + sse_chunk(ROLE) + sse_chunk(token("first")))
            self._stop.wait(self.stall_s)
        elif self.mode == "close":
            conn.sendall(SSE_HEAD + sse_chunk(ROLE) + sse_chunk(token("a")))
            time.sleep(0.05)
            conn.sendall(sse_chunk(token("b")))
            time.sleep(0.05)

    # -- the newer modes, one method each ---------------------------------------------
    def _answer_ok(self, conn: socket.socket, req: Request) -> None:
        if not req.stream:
            body = json.dumps(COMPLETION).encode()
            conn.sendall(plain("200 OK", "application/json", body))
            return
        conn.sendall(SSE_HEAD + b"".join(chunk(e) for e in ok_events()) + b"0\r\n\r\n")

    def _answer_status(self, conn: socket.socket, req: Request) -> None:
        status = self.statuses[(self.requests - 1) % len(self.statuses)]
        self.by_status[status] += 1
        ctype, body = error_body(self.shape, f"server says {status} ({self.shape})")
        extra = f"Retry-After: {self.retry_after}\r\n" if status == 429 and self.retry_after else ""
        conn.sendall(plain(f"{status} Whatever", ctype, body, extra))

    def _answer_echo_key(self, conn: socket.socket, req: Request) -> None:
        key = req.headers.get("authorization", "").partition(" ")[2]
        msg = f"Incorrect API key provided: {key}. Find your key at https://example.invalid"
        body = json.dumps({"error": {"message": msg, "code": "invalid_api_key"}}).encode()
        conn.sendall(plain("401 Unauthorized", "application/json", body))

    def _answer_role_wait(self, conn: socket.socket, req: Request) -> None:
        conn.sendall(SSE_HEAD + sse_chunk(ROLE))
        self._stop.wait(self.stall_s)

    def _answer_late_headers(self, conn: socket.socket, req: Request) -> None:
        self._stop.wait(self.stall_s)

    def _answer_gzip(self, conn: socket.socket, req: Request) -> None:
        self._compressed(conn, req, "gzip")

    def _answer_deflate(self, conn: socket.socket, req: Request) -> None:
        self._compressed(conn, req, "deflate")

    def _compressed(self, conn: socket.socket, req: Request, coding: str) -> None:
        z = compressor(coding)
        if not req.stream:
            body = z.compress(json.dumps(COMPLETION).encode()) + z.flush()
            extra = f"Content-Encoding: {coding}\r\n"
            conn.sendall(plain("200 OK", "application/json", body, extra))
            return
        head = SSE_HEAD.replace(b"\r\n\r\n", f"\r\nContent-Encoding: {coding}\r\n\r\n".encode())
        conn.sendall(head)
        for event in ok_events():  # one flushed piece per event, as a streaming server does
            conn.sendall(chunk(z.compress(event) + z.flush(zlib.Z_SYNC_FLUSH)))
        conn.sendall(chunk(z.flush()) + b"0\r\n\r\n")

    def _answer_br(self, conn: socket.socket, req: Request) -> None:
        body = b"\x1b\x00\x00\x00 not really brotli"  # never decoded: rejected by its name
        ctype = "text/event-stream" if req.stream else "application/json"
        conn.sendall(plain("200 OK", ctype, body, "Content-Encoding: br\r\n"))

    def _answer_split(self, conn: socket.socket, req: Request) -> None:
        """Chunks of 1..7 bytes: cut inside `data:`, inside JSON, inside UTF-8 characters."""
        stream = b"".join(ok_events())
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(SSE_HEAD)
        at, size = 0, 1
        while at < len(stream):
            conn.sendall(chunk(stream[at : at + size]))
            at, size = at + size, size % 7 + 1
            time.sleep(0.0005)
        conn.sendall(b"0\r\n\r\n")

    def _answer_until_close(self, conn: socket.socket, req: Request) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        conn.sendall(head)
        for event in ok_events():
            conn.sendall(event)
            time.sleep(0.002)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
