"""Prometheus endpoint of a run: the local runner's or the master's merged LLM metrics.

`attach_prometheus(environment)` (called once from `attach`) serves the families of
`llm_load.observe.prometheus` read from `llm_run(environment).book` at each scrape (on a
master that book is merged exactly from every worker's reports, like the summary):
- at `/metrics` of the web UI (under `--web-base-path`; behind the web UI's login when
  `--web-login` is on) whenever the web UI runs;
- on `--prometheus-port P` (bound to `--prometheus-host`, 127.0.0.1 by default) in any run,
  headless included, by a gevent WSGI server; `--prometheus-linger S` keeps it serving S
  seconds after the final summary, so a scraper sees the final numbers.
Workers serve nothing: they ship their in-flight count with each report instead, and the
master sums the latest count of each worker (so that gauge lags by up to one report).
`in_flight` wraps `LLMUser.chat_completion` to count requests sent and not yet finished.
"""

from __future__ import annotations

from locust.runners import MasterRunner, WorkerRunner

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import gevent
from flask import Response
from gevent.pywsgi import WSGIServer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.exposition import make_wsgi_app

from llm_load.locust.settings import Settings
from llm_load.observe.prometheus import LLMCollector, Snapshot

__all__ = ["IN_FLIGHT_KEY", "attach_prometheus", "in_flight", "in_flight_count"]

log = logging.getLogger("llm_load")
IN_FLIGHT_KEY = "llm_load_in_flight"  # in a worker's report
_COUNTER = "_llm_load_in_flight"  # environment attribute: this process's count
P = ParamSpec("P")
R = TypeVar("R")


class _InFlight:
    """Requests in flight: this process's own count, and (on a master) each worker's."""

    def __init__(self) -> None:
        self.count = 0
        self.workers: dict[str, int] = {}


def _counter(environment: Any) -> _InFlight:
    counter = getattr(environment, _COUNTER, None)
    if counter is None:
        counter = _InFlight()
        setattr(environment, _COUNTER, counter)
    return counter


def in_flight(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], R]:
    """Decorate a user's request method: counted in flight while it runs."""

    @functools.wraps(method)
    def counted(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        counter = _counter(self.environment)
        counter.count += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            counter.count -= 1

    return counted


def in_flight_count(environment: Any) -> int:
    """Requests in flight in this process, plus (on a master) in its connected workers."""
    counter = _counter(environment)
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return counter.count
    live = set(runner.clients)
    return counter.count + sum(n for worker, n in counter.workers.items() if worker in live)


def _snapshot(environment: Any) -> Snapshot:
    from llm_load.locust.run import llm_run  # run.py imports this module

    runner = environment.runner
    users = runner.user_count if runner is not None else None
    return Snapshot(llm_run(environment).book, users, in_flight_count(environment))


def attach_prometheus(environment: Any) -> None:
    """Serve `/metrics` (web UI, `--prometheus-port`) on a local runner or master; on a
    worker, ship the in-flight count with each report (idempotent)."""
    runner = environment.runner
    counter = _counter(environment)
    if isinstance(runner, WorkerRunner):
        environment.events.report_to_master.add_listener(
            lambda data, **_: data.__setitem__(IN_FLIGHT_KEY, counter.count)
        )
        return
    if getattr(environment, "_llm_load_prometheus", None) is not None:
        return
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LLMCollector(lambda: _snapshot(environment)))
    environment._llm_load_prometheus = registry
    environment.events.worker_report.add_listener(
        lambda client_id, data, **_: _note_worker(counter, client_id, data)
    )
    _add_web_route(environment, registry)
    from llm_load.locust.run import llm_run

    settings = llm_run(environment).settings
    if settings.prometheus_port > 0:
        _serve(environment, registry, settings)


def _note_worker(counter: _InFlight, client_id: str, data: dict[str, Any]) -> None:
    if IN_FLIGHT_KEY in data:
        counter.workers[client_id] = int(data[IN_FLIGHT_KEY])


def _add_web_route(environment: Any, registry: CollectorRegistry) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    base = getattr(environment.parsed_options, "web_base_path", None) or ""

    @web_ui.auth_required_if_enabled
    def metrics() -> Response:
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    web_ui.app.add_url_rule(base + "/metrics", "llm_load_metrics", metrics)


def _serve(environment: Any, registry: CollectorRegistry, settings: Settings) -> None:
    host, port = settings.prometheus_host, settings.prometheus_port
    server = WSGIServer((host, port), make_wsgi_app(registry), log=None)
    try:
        server.start()
    except OSError as error:
        print(f"llm-load: error: --prometheus-port {port}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("Prometheus metrics at http://%s:%d/metrics", host, port)

    def stop(**_: Any) -> None:
        # Quitting listeners run last-registered first: finish the run's own quitting work
        # (idempotent; a master's final summary) before the last scrapes, then stop.
        from llm_load.locust.run import llm_run

        llm_run(environment).role.on_quitting()
        gevent.sleep(settings.prometheus_linger_s)
        server.stop(timeout=1)

    environment.events.quitting.add_listener(stop)
