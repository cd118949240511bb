"""Simulated hosts: network namespaces on a private test subnet, and the faults between them.

`SimNet` builds one namespace per host (`<prefix>-<name>`, a per-test random prefix) plus a
switch namespace holding a bridge; each host gets `eth0` (a veth whose peer sits on the
bridge) with the address `10.231.0.<n>/24` and its own loopback. Nothing is added to the root
namespace, and the subnet exists only inside these namespaces, so the tests can only ever
reach addresses they created. Processes run inside a host with `ip netns exec`. Faults:
packet loss and partitions with nftables in a host's namespace (this kernel has no `tc
netem`); latency with `delay_proxy.py` placed in the path. `close()` kills every process
started here and deletes the namespaces, whatever happened; the `simnet` fixture calls it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import clean_env

SUBNET = "10.231.0"
PROXY = Path(__file__).with_name("delay_proxy.py")
IP = shutil.which("ip")
NFT = shutil.which("nft")


def skip_reason() -> str | None:
    """Why simulated hosts cannot be built here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if IP is None or NFT is None:
        return "needs `ip` (iproute2) and `nft` (nftables) on PATH"
    return None


class SimNet:
    """Hosts on one bridge; every process and namespace is removed by `close()`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.switch = f"{prefix}-sw"
        self.hosts: dict[str, str] = {}  # name -> address
        self.procs: list[subprocess.Popen] = []
        self._namespaces: list[str] = []

    def open(self) -> None:
        """The switch namespace and its bridge."""
        self._add_namespace(self.switch)
        self._ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        self._ip("-n", self.switch, "link", "set", "br0", "up")

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def _ip(self, *args: str) -> None:
        subprocess.run([IP, *args], check=True, capture_output=True, text=True)

    def _add_namespace(self, name: str) -> None:
        self._ip("netns", "add", name)
        self._namespaces.append(name)
        self._ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, name: str) -> str:
        """A new host on the bridge; returns its address."""
        ns, port = self.ns(name), f"p{len(self.hosts)}"
        address = f"{SUBNET}.{len(self.hosts) + 1}"
        self._add_namespace(ns)
        self._ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port,
                 "netns", self.switch)  # fmt: skip
        self._ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        self._ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        self._ip("-n", ns, "link", "set", "eth0", "up")
        self.hosts[name] = address
        return address

    def names(self, aliases: dict[str, str]) -> None:
        """Host names every host resolves (`/etc/netns/<ns>/hosts`, which `ip netns exec`
        mounts over /etc/hosts): alias -> host, like a cluster's Service names."""
        lines = ["127.0.0.1 localhost"]
        lines += [f"{self.hosts[host]} {alias}" for alias, host in aliases.items()]
        for host in self.hosts:
            etc = Path("/etc/netns") / self.ns(host)
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text("\n".join(lines) + "\n")

    # -- processes -------------------------------------------------------------------
    def popen(self, host: str, *cmd: str, **kwargs: Any) -> subprocess.Popen:
        """Start `cmd` inside `host` (stdout/stderr piped, text); killed by `close()`."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("env", clean_env())
        proc = subprocess.Popen([IP, "netns", "exec", self.ns(host), *cmd], text=True, **kwargs)
        self.procs.append(proc)
        return proc

    def run(self, host: str, *cmd: str, timeout: float = 30) -> str:
        """Run `cmd` inside `host` to completion; its stdout."""
        done = subprocess.run([IP, "netns", "exec", self.ns(host), *cmd], capture_output=True,
                              text=True, timeout=timeout, check=True)  # fmt: skip
        return done.stdout

    def get_json(self, host: str, url: str) -> Any:
        """GET `url` from inside `host` (the test process lives outside every namespace)."""
        code = "import sys, urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode())"
        return json.loads(self.run(host, sys.executable, "-c", code, url))

    def start_ready(
        self, host: str, ready: str, *cmd: str, timeout: float = 20
    ) -> subprocess.Popen:
        """Start `cmd` in `host` and wait until its first stdout line starts with `ready`."""
        proc = self.popen(host, *cmd, stderr=subprocess.DEVNULL)
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith(ready):
            raise RuntimeError(f"{cmd[:4]} in {host} did not start: {line!r}")
        return proc

    def delay_proxy(self, host: str, listen: str, connect: str, **delays: float) -> None:
        """A `delay_proxy.py` in `host` (`up_ms`, `down_ms`, `jitter_ms` as keywords)."""
        args = [f"--{k.replace('_', '-')}={v}" for k, v in delays.items()]
        self.start_ready(host, "delay proxy listening", sys.executable, str(PROXY),
                         "--listen", listen, "--connect", connect, *args)  # fmt: skip

    # -- faults ----------------------------------------------------------------------
    def _nft(self, host: str, *args: str) -> None:
        self.run(host, NFT, *args)

    def _filter(self, host: str) -> None:
        """The `inet sim` table with an input and an output chain (idempotent)."""
        self._nft(host, "add", "table", "inet", "sim")
        for chain, hook in (("in", "input"), ("out", "output")):
            spec = f"{{ type filter hook {hook} priority 0; }}"
            self._nft(host, "add", "chain", "inet", "sim", chain, spec)

    def loss(self, host: str, percent: int) -> None:
        """Drop `percent` % of the packets `host` sends or receives on eth0 (not loopback)."""
        self._filter(host)
        for chain, match in (("in", "iifname"), ("out", "oifname")):
            self._nft(host, "add", "rule", "inet", "sim", chain, match, "eth0",
                      "numgen", "random", "mod", "100", "<", str(percent), "drop")  # fmt: skip

    def partition(self, host: str, peer: str) -> None:
        """Cut `host` off from `peer`: every packet between them dropped, both ways."""
        self._filter(host)
        address = self.hosts[peer]
        self._nft(host, "add", "rule", "inet", "sim", "in", "ip", "saddr", address, "drop")
        self._nft(host, "add", "rule", "inet", "sim", "out", "ip", "daddr", address, "drop")

    def heal(self, host: str) -> None:
        """Remove every fault rule of `host`."""
        self._nft(host, "flush", "table", "inet", "sim")

    # -- cleanup ---------------------------------------------------------------------
    def close(self) -> None:
        """Stop every process started here, then delete the namespaces (idempotent)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for name in reversed(self._namespaces):
            subprocess.run([IP, "netns", "del", name], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)
        self._namespaces.clear()


@pytest.fixture
def simnet():
    """A `SimNet` with a per-test prefix, always torn down; skips when it cannot be built."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    net = SimNet(f"ll{uuid.uuid4().hex[:6]}")
    try:
        net.open()
    except subprocess.CalledProcessError as error:
        net.close()
        pytest.skip(f"cannot create network namespaces here: {error.stderr.strip()}")
    try:
        yield net
    finally:
        net.close()
