"""Settings of a run, resolved once at `test_start` from Locust's parsed options.

Workers receive the master's parsed options just before `test_start`, so resolving here
(never at import) gives every process the same view. The API key falls back to
`OPENAI_API_KEY`; `key_source` says where it came from without revealing it. With
`--scenario PATH`, `resolve_settings` loads the scenario and merges its defaults (host,
first model, key env var), thresholds after the `--threshold` ones, and its `slo:` limits
(a `--slo` limit on the same metric wins).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from llm_load.core.metrics.slo import SLO
from llm_load.core.metrics.thresholds import Threshold, ThresholdError, parse_threshold
from llm_load.core.scenario.schema import Scenario, ScenarioError, load_scenario
from llm_load.core.wire.endpoint import api_base, redact

__all__ = ["Settings", "resolve_settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    """What every LLM user of a run needs; `api_key` is never printed (see `public`)."""

    host: str
    model: str
    api_key: str
    key_source: str
    max_tokens: int | None
    prompt: str
    temperature: float | None
    stream: bool
    request_timeout_s: float
    llm_json: str
    stream_reader: str = "reactor"
    llm_requests: str = ""
    llm_html: str = ""
    tool_cases: str = ""
    tool_turns: int = 3
    ttft_timeout_s: float = 0.0  # 0: off
    insecure: bool = False  # skip TLS certificate verification
    thresholds: tuple[Threshold, ...] = ()
    slo: SLO | None = None  # per-request limits defining goodput (--slo, scenario slo:)
    scenario: Scenario | None = None
    server_metrics: str = "auto"  # --server-metrics: auto, host, off or a URL
    server_metrics_interval_s: float = 1.0
    server_metric: tuple[str, ...] = ()  # --server-metric NAME: raw samples kept

    @property
    def base_url(self) -> str:
        """The canonical `/v1` base URL of the target."""
        return api_base(self.host)

    @classmethod
    def from_options(
        cls,
        options: Any,
        host: str,
        environ: Mapping[str, str] = os.environ,
        configured_key: str = "",
    ) -> Settings:
        """Resolve from Locust's options; web-form values arrive as text and are coerced.

        `configured_key` is the key given at start-up: the web form shows secret fields
        blank, so an empty submitted key means "keep it"."""
        get = partial(getattr, options)
        key, source = _resolve_key(get("api_key", "") or configured_key, environ)
        max_tokens = _number(get("max_tokens", None), int)
        return cls(
            host=host,
            model=get("model", "") or "",
            api_key=key,
            key_source=source,
            max_tokens=max_tokens if max_tokens and max_tokens > 0 else None,
            prompt=get("prompt", "") or "",
            temperature=_number(get("temperature", None), float),
            stream=not _flag(get("no_stream", False)),
            request_timeout_s=_number(get("request_timeout", None), float) or 60.0,
            llm_json=get("llm_json", "") or "",
            stream_reader=get("stream_reader", "reactor") or "reactor",
            llm_requests=get("llm_requests", "") or "",
            llm_html=get("llm_html", "") or "",
            tool_cases=get("tool_cases", "") or "",
            tool_turns=max(1, _number(get("tool_turns", None), int) or 3),
            ttft_timeout_s=max(0.0, _number(get("ttft_timeout", None), float) or 0.0),
            insecure=_flag(get("insecure", False)),
            thresholds=tuple(parse_threshold(t) for t in get("threshold", None) or ()),
            slo=SLO.of(*slos) if (slos := get("slo", None) or ()) else None,
            server_metrics=get("server_metrics", "auto") or "auto",
            server_metrics_interval_s=_number(get("server_metrics_interval", None), float) or 1.0,
            server_metric=tuple(get("server_metric", None) or ()),
        )

    def public(self) -> dict[str, Any]:
        """The settings as shown in summaries and logs, with the key redacted."""
        return {
            "host": self.host,
            "model": self.model,
            "api_key": redact(self.api_key) if self.api_key else "(none)",
            "api_key_source": self.key_source,
            "max_tokens": self.max_tokens,
            "prompt_chars": len(self.prompt),
            "temperature": self.temperature,
            "stream": self.stream,
            "request_timeout_s": self.request_timeout_s,
            "ttft_timeout_s": self.ttft_timeout_s,
            "insecure": self.insecure,
            "thresholds": [t.text for t in self.thresholds],
            "slo": self.slo.as_dict() if self.slo else None,
            "scenario": self.scenario.name if self.scenario else None,
            "server_metrics": self.server_metrics,
        }

    def with_scenario(self, scenario: Scenario, environ: Mapping[str, str]) -> Settings:
        """These settings with the scenario's defaults; flags and `-H` keep precedence."""
        key, source = self.api_key, self.key_source
        key_env = scenario.target.api_key_env
        if key_env and environ.get(key_env) and not source.startswith("--api-key"):
            key, source = environ[key_env], f"{key_env} (scenario api_key_env)"
        return replace(
            self,
            host=self.host or scenario.target.host or "",
            model=self.model or scenario.models[0].name,
            api_key=key,
            key_source=source,
            thresholds=self.thresholds + scenario.parsed_thresholds(),
            slo=_merge_slo(scenario, self.slo),
            scenario=scenario,
            server_metrics=_scenario_metrics(self.server_metrics, scenario),
        )


def resolve_settings(
    options: Any,
    host: str,
    configured_key: str = "",
    on_error: Callable[[ScenarioError], None] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Settings:
    """`Settings.from_options` plus the `--scenario` file; a scenario error is raised, or
    passed to `on_error` (the settings are then returned without a scenario). Without
    `on_error` (at start-up) a goodput threshold with no SLO is a `ThresholdError` too."""
    settings = Settings.from_options(options, host, environ, configured_key)
    path = getattr(options, "scenario", "") or ""
    if path:
        try:
            settings = settings.with_scenario(load_scenario(path), environ)
        except ScenarioError as error:
            if on_error is None:
                raise
            on_error(error)
    if on_error is None and settings.slo is None:
        _no_goodput_checks(settings.thresholds)
    return settings


def _scenario_metrics(flag: str, scenario: Scenario) -> str:
    """`--server-metrics` given wins; else the scenario's `target.metrics`, else auto."""
    return scenario.target.metrics if flag == "auto" and scenario.target.metrics else flag


def _merge_slo(scenario: Scenario, flags: SLO | None) -> SLO | None:
    """The scenario's `slo:` with the `--slo` limits replacing it metric by metric."""
    if scenario.slo is None:
        return flags
    merged = scenario.slo.to_slo().merged(flags or SLO(()))
    return merged if merged.limits else None


def _no_goodput_checks(thresholds: tuple[Threshold, ...]) -> None:
    for threshold in thresholds:
        if threshold.metric == "goodput":
            raise ThresholdError(
                f"threshold {threshold.text!r}: goodput needs an SLO, e.g. "
                "--slo 'ttft_ms <= 500' or 'slo: {ttft_ms: 500}' in the scenario"
            )


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    """A number from a CLI value or web-form text; None when blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return kind(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def _resolve_key(flag_value: str, environ: Mapping[str, str]) -> tuple[str, str]:
    if flag_value:
        return flag_value, "--api-key / LLM_LOAD_API_KEY"
    if environ.get("OPENAI_API_KEY"):
        return environ["OPENAI_API_KEY"], "OPENAI_API_KEY"
    return "", "none"
