"""`--server-metrics`: scrape the target's Prometheus `/metrics` during the run.

One process scrapes: the local runner or the master, never a worker. A baseline scrape at
`test_start` (before any request goes out), then a greenlet every
`--server-metrics-interval` seconds, and once more when the test stops (so counter deltas
cover the whole run), and feeds `ServerSeries`. The default (`auto`) is `{host}/metrics`
when it answers: if the first scrape fails, scraping is off for the run and said once. With
`--server-metrics` (the same URL) or `--server-metrics URL`, failures never fail the run:
each is counted by reason in `server.scrape_errors` and logged once per reason. The API key
is sent only to the target's own host. `attach_server_metrics(environment, run)` wires it;
`ServerMetrics.add_to(summary, ...)` adds the `server` block, each time-series point's
`server` block and the TTFT split.
"""

from __future__ import annotations

from locust.runners import WorkerRunner

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import gevent
import requests

from llm_load.core.metrics.summary_types import Summary, plain
from llm_load.core.server.prometheus import parse_snapshot
from llm_load.core.server.series import ServerSeries
from llm_load.core.server.summary import add_server_points, server_summary, ttft_split
from llm_load.locust.settings import Settings

__all__ = ["ServerMetrics", "attach_server_metrics", "metrics_url"]

log = logging.getLogger("llm_load")
SCRAPE_TIMEOUT_S = 3.0
ALIGN_S = 0.005  # after a window's end, before the next one fills
FIRST_TIMEOUT_S = 2.0  # the baseline scrape holds the test's start back at most this long
OFF = ("off", "none", "no", "false", "0")


def metrics_url(option: str, host: str) -> tuple[str | None, bool]:
    """`(url, explicit)` for a `--server-metrics` value: `auto` (the default) and `host`
    mean `{scheme://host:port}/metrics`; `off` disables; anything else is the URL."""
    value = (option or "auto").strip()
    if value.lower() in OFF:
        return None, False
    if value.lower() not in ("auto", "host"):
        return value, True
    parts = urlsplit(host.strip())
    if not parts.scheme or not parts.netloc:
        return None, False
    return f"{parts.scheme}://{parts.netloc}/metrics", value.lower() == "host"


class ServerMetrics:
    """The sampler of one process and what it gathered in the current run."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.series = ServerSeries()
        self.errors: dict[str, int] = {}
        self._explicit = False
        self._greenlet: gevent.Greenlet | None = None
        self._session = requests.Session()
        self._interval_s = 1.0

    def start(self, settings: Settings) -> None:
        """Begin scraping for a new run (a previous run's sampler is stopped first)."""
        self._kill()
        self.url, self._explicit = metrics_url(settings.server_metrics, settings.host)
        self.series = ServerSeries(tuple(settings.server_metric))
        self.errors = {}
        self._interval_s = max(0.05, settings.server_metrics_interval_s)
        self._session = _session(settings, self.url)
        if self.url is None:
            return
        # The baseline, before any request is sent: the run's deltas count from here.
        if not self.scrape(FIRST_TIMEOUT_S) and not self._explicit:
            log.info("server metrics: %s does not answer; not scraping (%s)", self.url, self.errors)
            self.url, self.errors = None, {}
            return
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        """The test stopped: a last scrape closes the run's deltas (once)."""
        if self._greenlet is None:
            return
        self._kill()
        self.scrape()

    def _kill(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
            self._greenlet = None

    def _loop(self) -> None:
        """Scrape just after each interval boundary of the epoch clock, like the time
        series' windows, so each window ends with one scrape (a slow one skips a beat)."""
        interval = self._interval_s
        while True:
            gevent.sleep(interval - time.time() % interval + ALIGN_S)
            self.scrape()

    def scrape(self, timeout_s: float = SCRAPE_TIMEOUT_S) -> bool:
        """One scrape into the series; a failure is counted (and logged once per reason)."""
        assert self.url is not None
        try:
            resp = self._session.get(self.url, timeout=timeout_s)
            if resp.status_code != 200:
                return self._failed(f"http_{resp.status_code}", resp.text[:200])
            self.series.add(parse_snapshot(resp.text, time.time()))
            return True
        except requests.Timeout as error:
            return self._failed("timeout", str(error))
        except requests.RequestException as error:
            return self._failed("connection", str(error))
        except ValueError as error:
            return self._failed("parse", str(error))

    def _failed(self, reason: str, detail: str) -> bool:
        if reason not in self.errors and (self._explicit or self.series.samples):
            log.warning("server metrics: scraping %s failed (%s): %s", self.url, reason, detail)
        self.errors[reason] = self.errors.get(reason, 0) + 1
        return False

    def add_to(self, summary: Summary, started_at: float) -> None:
        """Add `server` (scrapes and the TTFT split) and per-point `server` blocks."""
        data = plain(summary)
        server: dict[str, Any] = {"family": None, "url": None}
        if self.url is not None:
            server = server_summary(self.series, self.url, self.errors)
            add_server_points(data["timeseries"], self.series.points, started_at)
        split = ttft_split(data["totals"], server)
        if split is not None:
            server["ttft_split"] = split
        if self.url is not None or split is not None:
            summary["server"] = server


def _session(settings: Settings, url: str | None) -> requests.Session:
    session = requests.Session()
    session.verify = not settings.insecure
    target = urlsplit(settings.host).netloc
    if url and settings.api_key and urlsplit(url).netloc == target:
        session.headers["Authorization"] = f"Bearer {settings.api_key}"
    return session


def attach_server_metrics(environment: Any, run: Any) -> None:
    """The local runner or the master starts `run.server_metrics` at `test_start` (after
    the run resolved its settings: attach after the run's own listeners)."""
    if not isinstance(environment.runner, WorkerRunner):
        metrics: ServerMetrics = run.server_metrics
        environment.events.test_start.add_listener(lambda **_: metrics.start(run.settings))
