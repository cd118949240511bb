"""llm-load's pure core: SSE decoding, chat-stream accumulation, records and metrics.

Nothing here touches Locust, gevent, sockets, clocks or the environment.
"""

from llm_load.core.metrics.book import ErrorStat, MetricsBook, ModelMetrics
from llm_load.core.metrics.histogram import LogHistogram
from llm_load.core.metrics.record import RequestRecord, record_from_stream
from llm_load.core.metrics.summary import SCHEMA, build_summary, write_summary
from llm_load.core.wire.chat import ChatStream, chat_request_body
from llm_load.core.wire.endpoint import api_base, redact
from llm_load.core.wire.errors import body_message, error_text
from llm_load.core.wire.sse import SSEDecoder

__all__ = [
    "SCHEMA",
    "ChatStream",
    "ErrorStat",
    "LogHistogram",
    "MetricsBook",
    "ModelMetrics",
    "RequestRecord",
    "SSEDecoder",
    "api_base",
    "body_message",
    "build_summary",
    "chat_request_body",
    "error_text",
    "record_from_stream",
    "redact",
    "write_summary",
]
