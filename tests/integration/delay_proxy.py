"""A delaying TCP proxy: the latency and jitter that this kernel's missing `tc netem` cannot add.

`python tests/integration/delay_proxy.py --listen HOST:PORT --connect HOST:PORT --up-ms D
--down-ms D --jitter-ms J` forwards every accepted connection to `--connect`, holding each
chunk read in one direction for its delay ± a uniform jitter before writing it on. Order is
kept per direction (a chunk never overtakes the one before it), so TCP semantics hold; a
half-close is passed on after the last held chunk. "up" is client → server, "down" server →
client. Prints `delay proxy listening on HOST:PORT` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

READY = "delay proxy listening on "
CHUNK = 65536


class Delay:
    """When each chunk of one direction may go: now + delay ± jitter, never before the last."""

    def __init__(self, delay_ms: float, jitter_ms: float, rng: random.Random) -> None:
        self.delay_s = delay_ms / 1000.0
        self.jitter_s = jitter_ms / 1000.0
        self.rng = rng
        self.last = 0.0

    def release_at(self, now: float) -> float:
        jitter = self.rng.uniform(-self.jitter_s, self.jitter_s) if self.jitter_s else 0.0
        self.last = max(self.last, now + max(0.0, self.delay_s + jitter))
        return self.last


async def pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: Delay,
    other: asyncio.StreamWriter,
) -> None:
    """Copy `reader` to `writer`, each chunk held until its release time; an EOF is passed on
    as a half-close, an error closes both sides (`writer` and `other`, the reader's own)."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            at, data = await queue.get()
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((delay.release_at(time.monotonic()), data))
        queue.put_nowait((delay.release_at(time.monotonic()), b""))
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
        writer.close()
        other.close()


def handler(args: argparse.Namespace, rng: random.Random):
    host, port = args.connect.rsplit(":", 1)

    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            s_reader, s_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            c_writer.close()
            return
        up = Delay(args.up_ms, args.jitter_ms, rng)
        down = Delay(args.down_ms, args.jitter_ms, rng)
        await asyncio.gather(
            pump(c_reader, s_writer, up, c_writer),
            pump(s_reader, c_writer, down, s_writer),
            return_exceptions=True,
        )
        c_writer.close()
        s_writer.close()

    return handle


async def serve(args: argparse.Namespace) -> None:
    host, port = args.listen.rsplit(":", 1)
    rng = random.Random(args.seed)
    server = await asyncio.start_server(handler(args, rng), host, int(port), reuse_address=True)
    print(READY + args.listen, flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", required=True, help="HOST:PORT to accept connections on")
    p.add_argument("--connect", required=True, help="HOST:PORT to forward them to")
    p.add_argument("--up-ms", type=float, default=0.0, help="client → server delay (ms)")
    p.add_argument("--down-ms", type=float, default=0.0, help="server → client delay (ms)")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="± uniform jitter (ms)")
    p.add_argument("--seed", type=int, default=0)
    asyncio.run(serve(p.parse_args(argv)))


if __name__ == "__main__":
    main()
