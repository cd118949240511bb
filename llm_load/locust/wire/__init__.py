"""The wire: the only code of llm-load that knows geventhttpclient.

`pool` gives a Locust session connections carrying a `Wire` (its `StreamReactor`, the
header wait) through Locust's `client_pool` seam; `body` reads a response into a sink
(`read_sse`, `read_body`); `reactor` reads every stream of a process from one `epoll`;
`stamps` keeps each event's kernel arrival; `patches` holds the one change to
geventhttpclient's own code (the stamped header read), version-guarded.
"""

from __future__ import annotations

from llm_load.locust.wire import patches
from llm_load.locust.wire.body import (
    CONNECTION_CLOSED,
    MAX_ERROR_BODY,
    STALE,
    FirstToken,
    Sink,
    StreamClosed,
    TTFTTimeout,
    read_body,
    read_sse,
    set_read_timeout,
)
from llm_load.locust.wire.patches import apply as apply_patches
from llm_load.locust.wire.pool import Wire, WireClient, use_wire, warm_connection
from llm_load.locust.wire.reactor import StreamReactor

__all__ = [
    "CONNECTION_CLOSED",
    "MAX_ERROR_BODY",
    "STALE",
    "FirstToken",
    "Sink",
    "StreamClosed",
    "StreamReactor",
    "TTFTTimeout",
    "Wire",
    "WireClient",
    "apply_patches",
    "patches",
    "read_body",
    "read_sse",
    "set_read_timeout",
    "use_wire",
    "warm_connection",
]
