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
from typing import Any

from llm_load.core.metrics.slo import SLO
from llm_load.core.metrics.thresholds import Threshold, ThresholdError
from llm_load.core.scenario.schema import Scenario, ScenarioError, load_scenario
from llm_load.core.wire.endpoint import ApiKey, api_base, resolve_key, secrets_of
from llm_load.core.wire.protocols import PROTOCOLS
from llm_load.locust.options import OPTIONS

__all__ = ["Settings", "resolve_settings"]

KEY_SOURCE = "--api-key / LLM_LOAD_API_KEY"  # Locust's parser reads the env var into the flag
KEY_FALLBACK = ("OPENAI_API_KEY",)


@dataclass(frozen=True, slots=True)
class Settings:
    """What every LLM user of a run needs; `api_key` is never printed (see `public`).

    Each field but `host`, `key_source` and `scenario` is one option of `OPTIONS` (its
    default, coercion and summary form are written there)."""

    host: str
    model: str
    api_key: str
    key_source: str
    headers: tuple[tuple[str, str], ...]  # --header and target.headers, sent on every request
    max_tokens: int | None
    prompt: str
    tokenizer: str  # server | PATH | usage | estimate | "" (auto)
    exact_output: bool  # ignore_eos + min_tokens = max_tokens
    warmup: tuple[float, int]  # (seconds, requests) left out of the summary; (0, 0): none
    temperature: float | None
    stream: bool
    api: str  # the API of models without a scenario `api:` (a row of PROTOCOLS)
    batch: int  # inputs per embeddings request
    request_timeout_s: float
    ttft_timeout_s: float  # 0: off
    insecure: bool  # skip TLS certificate verification
    llm_json: str
    llm_requests: str
    llm_html: str
    tool_cases: str
    tool_turns: int
    stream_reader: str
    thresholds: tuple[Threshold, ...]
    slo: SLO | None  # per-request limits defining goodput (--slo, scenario slo:)
    server_metrics: str  # --server-metrics: auto, host, off or a URL
    server_metrics_interval_s: float
    server_metric: tuple[str, ...]  # --server-metric NAME: raw samples kept
    prometheus_port: int  # 0: off (llm_load.locust.prometheus)
    prometheus_host: str
    prometheus_linger_s: float
    scenario: Scenario | None = None

    @property
    def base_url(self) -> str:
        """The canonical `/v1` base URL of the target."""
        return api_base(self.host)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every string never to be printed: the key's forms, secret header values."""
        return secrets_of(self.host, ApiKey(self.api_key or None, ""), self.headers)

    def api_of(self, model: str) -> str:
        """The API `model` is sent with: its scenario `api:`, else `--api`."""
        spec = self.scenario.model_spec(model) if self.scenario is not None else None
        return spec.api if spec is not None and spec.api else self.api

    def request_headers(self, api: str = "chat") -> dict[str, str]:
        """The key in `api`'s auth headers (`Authorization: Bearer KEY` but for messages'
        `x-api-key`) when a key is set, and the extra headers."""
        headers = PROTOCOLS[api].auth(self.api_key)
        headers.update(self.headers)
        return headers

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
        flag = getattr(options, "api_key", "") or configured_key or None
        fallback: tuple[str, ...] = KEY_FALLBACK
        if getattr(options, "api", "") == "messages":  # never an Anthropic key elsewhere
            fallback = ("ANTHROPIC_API_KEY", *fallback)
        key = resolve_key(flag, environ, fallback, KEY_SOURCE)
        values = {o.attribute: o.value(options) for o in OPTIONS if o.read is not None}
        return cls(host=host, api_key=key.value or "", key_source=key.source, **values)

    def public(self) -> dict[str, Any]:
        """The settings as shown in summaries and logs, with the key redacted."""
        shown = {o.public: o.shown(getattr(self, o.attribute)) for o in OPTIONS if o.public}
        return {"host": self.host, **shown, "api_key_source": self.key_source}

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
            tokenizer=self.tokenizer or scenario.tokenizer or "",
            exact_output=self.exact_output or scenario.exact_output,
            warmup=self.warmup if any(self.warmup) else scenario.warmup_window(),
            headers=merge_headers(scenario.target.expanded_headers(environ), self.headers),
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


def merge_headers(
    base: tuple[tuple[str, str], ...], flags: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """`base` headers with `flags` replacing those of the same name (any case)."""
    names = {name.lower() for name, _ in flags}
    return tuple(h for h in base if h[0].lower() not in names) + flags


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
