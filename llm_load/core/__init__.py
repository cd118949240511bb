"""llm-load's pure core: SSE decoding, chat-stream accumulation, records and metrics.

Nothing here touches Locust, gevent, sockets, clocks or the environment.
"""

from llm_load.core.chat import ChatStream, chat_request_body
from llm_load.core.endpoint import api_base, redact
from llm_load.core.errors import body_message, error_text
from llm_load.core.histogram import LogHistogram
from llm_load.core.metrics import ErrorStat, MetricsBook, ModelMetrics
from llm_load.core.record import RequestRecord, record_from_stream
from llm_load.core.sse import SSEDecoder
from llm_load.core.summary import SCHEMA, build_summary, write_summary

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
