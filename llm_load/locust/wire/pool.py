"""Connections with the wire's settings, through Locust's `client_pool` seam.

`ClientPool` (an `HTTPClientPool`) makes `WireClient`s whose connection pool is a
`WirePool` carrying a `Wire`: the `StreamReactor` that watches and reads its sockets (handed
to the connection factory, no global), the wait for response headers (`--ttft-timeout`), a
"is this pooled socket still alive?" check that does not yield, and kernel stamps turned on
as each connection opens. `use_wire` gives a Locust `FastHttpSession` such a pool (what
`FastHttpUser.client_pool` does); `warm_connection` opens the first connection early.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gevent.monkey import get_original
from geventhttpclient.client import HTTPClient, HTTPClientPool
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool
from geventhttpclient.url import URL

from llm_load import kernel_stamps

if TYPE_CHECKING:
    from llm_load.locust.wire.reactor import StreamReactor

__all__ = ["ClientPool", "Wire", "WireClient", "WirePool", "use_wire", "warm_connection"]

_poll, _POLLIN = get_original("select", "poll"), get_original("select", "POLLIN")


@dataclass(frozen=True, slots=True)
class Wire:
    """What a user's connections share: its reactor (None: each greenlet reads its own
    responses) and how long to wait for response headers (None: the network timeout)."""

    reactor: StreamReactor | None = None
    header_wait_s: float | None = None


class WirePool(ConnectionPool):
    """A `ConnectionPool` with a `Wire` (see module doc)."""

    wire: Wire = Wire()

    def _is_socket_alive(self, sock: Any) -> bool:
        """geventhttpclient's check calls gevent's `select(..., 0)`, which yields to the hub
        before every request: the request then waits behind every ready greenlet while its
        clock (TTFT, E2E) runs. A zero-timeout poll of one descriptor never needs to wait."""
        if sock is None:
            return False
        try:
            fd = sock.fileno()
            if fd < 0:
                return False
            poller = _poll()
            poller.register(fd, _POLLIN)
            return not poller.poll(0)  # readable while idle: closed by the peer, or dirty
        except (OSError, ValueError):
            return False

    def get_socket(self) -> Any:
        """A connection whose timeout ends the wait for the headers when one is set
        (`set_read_timeout` gives the body the stall timeout back)."""
        sock = super().get_socket()
        if self.wire.header_wait_s is not None:
            sock.settimeout(self.wire.header_wait_s)
        return sock

    def after_connect(self, sock: Any) -> None:
        """Turn kernel stamps on before the first answer can arrive (plain TCP)."""
        super().after_connect(sock)
        reactor = self.wire.reactor
        if reactor is not None and reactor.kernel_stamps and not hasattr(sock, "pending"):
            kernel_stamps.turn_on(getattr(sock, "_sock", None))


class WireSSLPool(WirePool, SSLConnectionPool):
    """The same for TLS connections (never stamped: the kernel sees encrypted bytes)."""


def _adopt(pool: ConnectionPool, wire: Wire) -> WirePool:
    """`pool` (just made by `HTTPClient`, no connection yet) as a `WirePool` with `wire`."""
    cls = WireSSLPool if isinstance(pool, SSLConnectionPool) else WirePool
    adopted = cls.__new__(cls)
    adopted.__dict__.update(vars(pool))
    adopted.wire = wire
    return adopted


class WireClient(HTTPClient):
    """An `HTTPClient` whose connections come from a `WirePool`."""

    def __init__(self, host: str, port: int | None = None, *, wire: Wire, **kw: Any) -> None:
        super().__init__(host, port, **kw)
        self._connection_pool = _adopt(self._connection_pool, wire)


class ClientPool(HTTPClientPool):
    """An `HTTPClientPool` of `WireClient`s (one per host:port), all sharing one `Wire`."""

    def __init__(self, wire: Wire, **kw: Any) -> None:
        super().__init__(**kw)
        self.wire = wire

    def get_client(self, url: str | URL) -> HTTPClient:
        if not isinstance(url, URL):
            url = URL(url)
        key = url.host, url.port
        client = self.clients.get(key)
        if client is None:
            client = WireClient.from_url(url, wire=self.wire, **self.client_args)
            self.clients[key] = client
        return client


def use_wire(session: Any, wire: Wire) -> None:
    """Give a Locust `FastHttpSession` (no request sent yet) connections with `wire`, built
    with the same arguments Locust gave its own pool (timeouts, TLS, concurrency, proxy).
    This is the assignment `LocustUserAgent(client_pool=...)` itself makes."""
    agent = session.client
    agent.clientpool = ClientPool(wire, **agent.clientpool.client_args)


def warm_connection(session: Any, url: str) -> None:
    """Open one keep-alive connection to `url`'s server ahead of the first request, so
    that request's clock does not include connecting (and the hub cycle a connect yields
    to). Errors are left for the first request to report."""
    try:
        pool = session.client.clientpool.get_client(url)._connection_pool
        pool.return_socket(pool.get_socket())
    except Exception:
        return
