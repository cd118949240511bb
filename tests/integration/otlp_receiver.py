"""An OTLP/HTTP metrics receiver for tests: 127.0.0.1, a free port, a thread; keeps every
`ExportMetricsServiceRequest` it is sent, decoded with the `opentelemetry-proto` messages."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)


class Receiver:
    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[ExportMetricsServiceRequest] = []

    def latest(self, scope: str) -> dict[tuple[str, frozenset], Any]:
        """The newest data point of each (metric name, attributes) of instrumentation `scope`
        (cumulative temporality: the newest is the total)."""
        out: dict[tuple[str, frozenset], Any] = {}
        for request in self.requests:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    if sm.scope.name != scope:
                        continue
                    for metric in sm.metrics:
                        for point in _points(metric):
                            key = (metric.name, frozenset(attributes(point).items()))
                            if key not in out or point.time_unix_nano >= out[key].time_unix_nano:
                                out[key] = point
        return out


def _points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    return getattr(metric, kind).data_points


def attributes(point: Any) -> dict[str, Any]:
    out = {}
    for kv in point.attributes:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/metrics":
                receiver.requests.append(ExportMetricsServiceRequest.FromString(body))
            reply = ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
