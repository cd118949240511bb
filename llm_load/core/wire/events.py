"""`EventStream`: the base of accumulators whose SSE payloads are typed events (`{"type": ...}`
in every payload: the Responses and Messages APIs). `add` parses a payload and hands it to
the class's handler for its type; a handler returns what the event carried (`NONE`, a
`TOKEN`, or a tool-call token `CALL`), and `add` keeps the arrival time of token events
(and of tool-call ones apart), as `ChatStream` does for chat chunks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from llm_load.core.wire.chat import DONE, ChatStream, json_loads

__all__ = ["CALL", "NONE", "TOKEN", "EventStream"]

NONE, TOKEN, CALL = 0, 1, 2


class EventStream(ChatStream):
    """A `ChatStream` fed typed events; subclasses fill `HANDLERS` (event type -> method)."""

    __slots__ = ()
    HANDLERS: ClassVar[dict[Any, Callable[[Any, dict[str, Any]], int]]] = {}

    def add(self, payload: bytes, t_s: float) -> None:
        """Accumulate one SSE data payload received `t_s` seconds after the request start."""
        if payload == DONE:
            self.done = True
            return
        try:
            obj = json_loads(payload)
        except ValueError:
            self._invalid(payload)
            return
        if not isinstance(obj, dict):
            self._invalid(payload)
            return
        handler = self.HANDLERS.get(obj.get("type"))
        carried = NONE if handler is None else handler(self, obj)
        if carried:
            self.token_times_s.append(t_s)
            if carried == CALL:
                self.tool_call_times_s.append(t_s)
