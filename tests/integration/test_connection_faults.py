"""A host name that does not resolve fails every request as `dns_error`, with no DNS query
leaving the machine.

The Locust run is started inside new user, mount and network namespaces (`unshare -rmn`):
`/etc/nsswitch.conf` is replaced there by `hosts: files`, so only `/etc/hosts` is consulted,
and the namespace has no network at all (not even an up loopback), so even a resolver that
ignored nsswitch could not send a packet. Skipped where unprivileged namespaces are not
allowed, or where an nscd socket could resolve on our behalf outside the namespace.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CHAT_LOCUSTFILE, clean_env, load

pytestmark = pytest.mark.timeout(120)

HOST = "llm-load-no-such-host.invalid"  # RFC 6761: never resolvable
ISOLATE = ["unshare", "-rmn", "sh", "-c", 'mount --bind "$0" /etc/nsswitch.conf && exec "$@"']


def isolated(nsswitch: Path, *cmd: str) -> list[str]:
    return [*ISOLATE, str(nsswitch), *cmd]


@pytest.fixture
def nsswitch(tmp_path: Path) -> Path:
    if Path("/var/run/nscd/socket").exists():
        pytest.skip("nscd could resolve outside the namespace")
    path = tmp_path / "nsswitch.conf"
    path.write_text("hosts: files\n")
    probe = isolated(path, "cat", "/etc/nsswitch.conf")
    try:
        out = subprocess.run(probe, capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        pytest.skip("needs unshare (util-linux)")
    if out.returncode != 0 or out.stdout != "hosts: files\n":
        pytest.skip(f"unprivileged namespaces not available: {out.stderr.strip()}")
    return path


def test_unresolvable_host_is_dns_error(tmp_path, nsswitch):
    summary = tmp_path / "summary.json"
    locust = [sys.executable, "-m", "locust", "-f", str(CHAT_LOCUSTFILE), "--headless"]
    args = ["-u", "2", "-r", "2", "-t", "2s", "-H", f"http://{HOST}:8000", "--model", "m"]
    cmd = isolated(nsswitch, *locust, *args, "--llm-json", str(summary))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=clean_env())
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    s = load(summary)
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    [error] = s["errors"]
    assert error["kind"] == "dns_error", error
    assert "Name or service not known" in error["example"]
