"""Decoding a response body sent with a `Content-Encoding`, although we asked for `identity`.

llm-load sends `Accept-Encoding: identity`, yet some servers and proxies compress anyway.
`body_decoder(header)` returns an incremental decoder for the header's codings (`gzip`,
`x-gzip`, `deflate` — zlib-wrapped or raw — and `identity`, stacked in any order), or None
when the body is not encoded. Any other coding (`br`, `zstd`, `compress`, ...) raises
`UnsupportedEncoding`; compressed bytes that do not decode raise `InvalidEncoding`. Blocks
may be split anywhere: `feed(bytes)` returns what the bytes decoded to so far, often `b""`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

__all__ = ["BodyDecoder", "InvalidEncoding", "UnsupportedEncoding", "body_decoder"]

GZIP = ("gzip", "x-gzip")
DEFLATE = "deflate"
IDENTITY = ("identity", "")


class UnsupportedEncoding(ValueError):
    """The server used a `Content-Encoding` llm-load does not decode."""


class InvalidEncoding(ValueError):
    """The body is not valid data of its declared `Content-Encoding`."""


def _gzip() -> Callable[[bytes], bytes]:
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress


def _deflate() -> Callable[[bytes], bytes]:
    """RFC 9110 `deflate` is zlib-wrapped; some servers send raw deflate: accept both,
    told apart by the zlib header (its first two bytes)."""
    chosen: list[Callable[[bytes], bytes]] = []
    held = bytearray()

    def decompress(data: bytes) -> bytes:
        if chosen:
            return chosen[0](data)
        held.extend(data)
        if len(held) < 2:
            return b""
        cmf, flg = held[0], held[1]
        wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
        chosen.append(zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS).decompress)
        return chosen[0](bytes(held))

    return decompress


class BodyDecoder:
    """Undoes a stack of content codings, block by block."""

    __slots__ = ("_steps", "codings")

    def __init__(self, codings: list[str]) -> None:
        self.codings = codings
        # Codings are listed in the order they were applied: undo them in reverse.
        self._steps = [_gzip() if c in GZIP else _deflate() for c in reversed(codings)]

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of the next block (possibly empty)."""
        try:
            for step in self._steps:
                data = step(data)
        except zlib.error as error:
            names = ", ".join(self.codings)
            raise InvalidEncoding(f"body is not valid {names} data ({error})") from None
        return data


def body_decoder(content_encoding: str | None) -> BodyDecoder | None:
    """The decoder of a `Content-Encoding` header value; None when nothing is to be undone."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c not in IDENTITY]
    if not codings:
        return None
    unknown = [c for c in codings if c not in GZIP and c != DEFLATE]
    if unknown:
        raise UnsupportedEncoding(
            f"response sent with Content-Encoding {content_encoding!r} although the request "
            f"said 'Accept-Encoding: identity'; llm-load decodes only gzip and deflate"
        )
    return BodyDecoder(codings)
