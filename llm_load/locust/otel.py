"""OpenTelemetry export of our LLM metrics with Locust's own `--otel`.

With `--otel` (Locust's `locust[otel]` extra and the standard `OTEL_*` environment: Locust sets
up the meter provider and its OTLP exporter), `attach_otel(environment)` adds our instruments
(`llm_load.observe.otel`) and the gauges `llm_load.users` / `llm_load.in_flight_requests` on
the local runner or the master only: the master's book is the exact merge of every worker's
reports (the same as summary.json, orphan workers' reports left out), so one process exports
the run's totals and a backend needs no cross-worker merge (workers with `--otel` still export
Locust's own instruments). A greenlet feeds the book's growth into the instruments every
second; at quitting, after the run's final summary, a last feed and a flush of the exporter.
Attributes: `gen_ai.operation.name` chat, `gen_ai.provider.name` openai (the OpenAI API),
`gen_ai.request.model`, `server.address` / `server.port` of `--host`.
"""

from __future__ import annotations

from locust.runners import WorkerRunner

import logging
from typing import Any
from urllib.parse import urlsplit

import gevent

from llm_load.locust.prometheus import in_flight_count

__all__ = ["attach_otel", "base_attributes"]

log = logging.getLogger("llm_load")
FEED_INTERVAL_S = 1.0


def base_attributes(host: str) -> dict[str, str | int]:
    """The attributes of every data point, from the target URL."""
    attrs: dict[str, str | int] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
    }
    url = urlsplit(host)
    if url.hostname:
        attrs["server.address"] = url.hostname
        attrs["server.port"] = url.port or (443 if url.scheme == "https" else 80)
    return attrs


def attach_otel(environment: Any) -> None:
    """Export our metrics over OpenTelemetry when Locust runs with `--otel` (not on workers)."""
    if not getattr(environment.parsed_options, "otel", False):
        return
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        from opentelemetry import metrics

        from llm_load.observe.otel import BookReplay
    except ImportError:
        log.warning("--otel: OpenTelemetry is not installed (pip install 'locust[otel]')")
        return
    from llm_load.locust.run import llm_run

    run = llm_run(environment)
    meter = metrics.get_meter("llm_load")
    replay = BookReplay(meter)
    runner = environment.runner
    meter.create_observable_gauge(
        "llm_load.users",
        callbacks=[lambda _: [metrics.Observation(runner.user_count)]],
        description="Users running",
    )
    meter.create_observable_gauge(
        "llm_load.in_flight_requests",
        callbacks=[lambda _: [metrics.Observation(in_flight_count(environment))]],
        description="Requests sent, not yet finished",
    )

    def feed() -> None:
        replay.replay(run.book, base_attributes(run.settings.host))

    def feed_forever() -> None:
        while True:
            gevent.sleep(FEED_INTERVAL_S)
            feed()

    def final(**_: Any) -> None:
        run.role.on_quitting()  # idempotent: the run's final summary (a master's last merge) first
        feed()
        provider = metrics.get_meter_provider()
        if hasattr(provider, "force_flush"):
            provider.force_flush()

    gevent.spawn(feed_forever)
    environment.events.quitting.add_listener(final)
