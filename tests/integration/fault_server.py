"""A tiny raw-socket HTTP server that misbehaves on purpose, for stream-fault tests.

Each connection reads one request and answers according to `mode`:
`stall` (one token, then silence), `close` (two tokens, then the connection drops without
the chunked terminator), `not_sse` (200 with a JSON body to a streaming request), `html500`
(500 with an HTML page), `error_event` (an in-stream error object then [DONE]),
`keepalive_drop` (a complete response; the next request on that kept-alive connection is
read and the connection closed unanswered, as when a server's keep-alive timeout fires
just as the client reuses the connection).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

ROLE = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}


FINISH = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


def token(text: str) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


def sse_chunk(obj: dict | str) -> bytes:
    payload = obj if isinstance(obj, str) else json.dumps(obj)
    event = f"data: {payload}\n\n".encode()
    return f"{len(event):x}\r\n".encode() + event + b"\r\n"


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def plain(status: str, ctype: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class FaultServer:
    """Serves one fault mode on 127.0.0.1 from a background thread."""

    def __init__(self, mode: str, stall_s: float = 30.0) -> None:
        self.mode = mode
        self.stall_s = stall_s
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.requests = 0
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
        with conn, contextlib.suppress(OSError):  # clients reset connections at test stop
            for served in range(2):
                if not self._read_request(conn):
                    return
                if served == 1:  # keepalive_drop: the second request on a connection is
                    return  # read, then dropped unanswered, as at a keep-alive timeout race
                self.requests += 1
                self._answer(conn)
                if self.mode != "keepalive_drop":
                    return

    @staticmethod
    def _read_request(conn: socket.socket) -> bool:
        """Read one request (headers and Content-Length body); False at end of stream."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            body += chunk
        return True

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

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
