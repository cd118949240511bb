"""Incremental Server-Sent Events (SSE) decoder for streamed LLM responses.

`SSEDecoder` turns the raw byte blocks of a ``text/event-stream`` body, split at arbitrary
points by the network, into the data payloads of complete events, following the WHATWG
event-stream interpretation rules: ``data:`` values (one optional space after the colon
stripped, a bare ``data`` line meaning an empty value) are joined with ``b"\\n"``; comment
lines (``:``...) and the ``event``, ``id``, ``retry`` and unknown fields are ignored; events
without any data line are dropped; ``\\n``, ``\\r\\n`` and bare ``\\r`` line endings are all
accepted, including a ``\\r\\n`` pair split across two blocks; a UTF-8 BOM at the very start
of the stream is stripped. Two deliberate, documented deviations from the spec, both lenient:
an event whose only data is the empty string (``data:`` then a blank line) is returned as
``b""`` rather than suppressed, and `SSEDecoder.flush` returns an event left pending at end
of stream (for example ``data: [DONE]\\n`` followed by EOF, without the final blank line),
including an unterminated last line. One extension: an ``error`` field (llama.cpp's server
before late 2025 sent an in-stream error as ``error: {"code":…,"message":…}`` then a blank
line, not as ``data: {"error": …}``) counts as a data line whose value is ``{"error": VALUE}``
(VALUE as a JSON string when it is not JSON), so the chat accumulator sees an error object
instead of a stream that looks clean. The decoder works on bytes only (no decoding to ``str``)
and has a fast path for the dominant case of ``\\n``-terminated blocks holding whole
single-line ``data: ...`` events, because it runs for every received block.
"""

from __future__ import annotations

import json

__all__ = ["SSEDecoder"]

_BOM = b"\xef\xbb\xbf"
_CR = b"\r"
_LF = b"\n"
_EVENT_END = b"\n\n"
_DATA_PREFIX = b"data: "
_DATA_FIELD = b"data:"
_SEPARATOR = b"\n\ndata: "
_ERROR_FIELD = b"error:"


class SSEDecoder:
    """Incremental SSE decoder: ``feed(bytes)`` returns complete events' data payloads.

    Call `feed` with each received block, in order, and `flush` once at end of stream.
    Every returned payload is the event's data as raw bytes (usually UTF-8 JSON or
    ``b"[DONE]"``). After `flush` the decoder is reset and can decode a new stream.
    """

    __slots__ = ("_at_start", "_clean", "_data", "_pending_cr", "_tail")

    def __init__(self) -> None:
        self._tail: bytes = b""  # bytes of the current, not yet terminated line
        self._data: list[bytes] = []  # data values of the event being assembled
        self._pending_cr: bool = False  # last block ended with CR: skip a leading LF
        self._at_start: bool = True  # BOM not checked yet
        self._clean: bool = False  # all of the above empty/false: fast path allowed

    def feed(self, data: bytes) -> list[bytes]:
        """Consume the next block of the stream; return the payloads of events it completes."""
        if self._clean and data.startswith(_DATA_PREFIX) and data.find(_CR) < 0:
            # Fast path: LF-only block starting and ending on an event boundary.
            end = len(data) - 2
            if data.find(_LF) == end and data[-1] == 10:
                return [data[6:end]]  # exactly one single-line ``data: `` event
            if not data.endswith(_EVENT_END):
                return self._feed_general(data)
            payloads = data[6:end].split(_SEPARATOR)
            if data.count(_LF) == 2 * len(payloads):
                # Every LF is accounted for by a separator or the final blank line, so the
                # block is exactly ``data: p1\n\ndata: p2\n\n...`` with single-line payloads.
                return payloads
        return self._feed_general(data)

    def flush(self) -> list[bytes]:
        """End of stream: return the pending event if it has data (lenient), then reset.

        The spec discards an event not terminated by a blank line; this decoder instead
        returns it, treating an unterminated last line as complete, so that a stream ending
        in ``data: [DONE]\\n`` (or a truncated payload, which the caller can then reject)
        is not silently lost.
        """
        out: list[bytes] = []
        tail = self._tail
        if tail and not (self._at_start and _BOM.startswith(tail)):
            self._lines([tail], out)
        self._dispatch(out)
        self._tail = b""
        self._pending_cr = False
        self._at_start = True
        self._clean = False
        return out

    def _feed_general(self, data: bytes) -> list[bytes]:
        """Slow path: any line endings, partial lines, events spanning blocks, BOM."""
        if not data:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if data[0] == 10:  # the LF of a CRLF pair split across blocks
                data = data[1:]
        text = self._tail + data if self._tail else data
        if self._at_start:
            if len(text) < 3 and _BOM.startswith(text):
                self._tail = text  # could still become a BOM: wait for more bytes
                return []
            self._at_start = False
            if text.startswith(_BOM):
                text = text[3:]
        if not text:  # the block was only a BOM or the LF of a split CRLF
            self._tail = b""
            self._clean = not self._data
            return []
        # bytes.splitlines() breaks at exactly the SSE line endings: LF, CRLF and bare CR.
        lines = text.splitlines()
        last = text[-1]
        if last == 10 or last == 13:
            self._tail = b""
            self._pending_cr = last == 13
        else:
            self._tail = lines.pop()
        out: list[bytes] = []
        self._lines(lines, out)
        self._clean = not (self._tail or self._data or self._pending_cr)
        return out

    def _lines(self, lines: list[bytes], out: list[bytes]) -> None:
        """Interpret complete lines (without terminators), dispatching events on blank ones."""
        data = self._data
        for line in lines:
            if not line:
                if data:
                    out.append(data[0] if len(data) == 1 else _LF.join(data))
                    data.clear()
            elif line.startswith(_DATA_FIELD):
                data.append(line[6:] if line.startswith(_DATA_PREFIX) else line[5:])
            elif line == b"data":
                data.append(b"")
            elif line.startswith(_ERROR_FIELD):
                data.append(_error_payload(line[7:] if line[6:7] == b" " else line[6:]))
            # Anything else is a comment (``:``...) or a field this decoder ignores.

    def _dispatch(self, out: list[bytes]) -> None:
        """Terminate the event being assembled (if it has data) as if by a blank line."""
        data = self._data
        if data:
            out.append(data[0] if len(data) == 1 else _LF.join(data))
            data.clear()


def _error_payload(value: bytes) -> bytes:
    """The value of an ``error:`` line (one leading space already stripped) as the payload
    ``{"error": VALUE}``; a value that is not JSON is wrapped as a JSON string."""
    try:
        json.loads(value)
    except ValueError:
        value = json.dumps(value.decode("utf-8", "replace")).encode()
    return b'{"error":' + value + b"}"
