"""Our numbers in the user's own monitoring: the run's `MetricsBook` as Prometheus metric
families (`llm_load.observe.prometheus`) and as OpenTelemetry instruments with the GenAI
semantic-convention names (`llm_load.observe.otel`). No Locust here: the Locust wiring is
`llm_load.locust.prometheus` / `llm_load.locust.otel`."""

from __future__ import annotations

__all__: list[str] = []
