"""Run the doctor's checks in order and turn them into a result: steps, verdict, exit code.

A failing step stops the run (later checks would only repeat it) unless it knows how to carry
on: a wrong base URL whose working sibling was found continues there, so that one run reports
both the 404 and, say, the 401 behind it. The exit code names the first failing step.
Everything returned is scrubbed of the API key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llm_load.core.wire.endpoint import (
    KEY_ENV,
    display_url,
    resolve_key,
    scrub_secrets,
    secrets_of,
)
from llm_load.doctor.apis import check_api, check_apis
from llm_load.doctor.base import Step, Target
from llm_load.doctor.chat import check_chat, check_stream, check_tools
from llm_load.doctor.endpoint import check_auth, check_connect, check_endpoint, host_for
from llm_load.doctor.metrics import probe_metrics
from llm_load.doctor.model import check_model

__all__ = [
    "EXIT_CODES",
    "INTERNAL_ERROR",
    "DoctorRun",
    "context_length",
    "list_models",
    "run_doctor",
]

EXIT_CODES = {"connect": 10, "endpoint": 11, "auth": 12, "model": 13, "chat": 14, "stream": 15,
              "api": 14}  # fmt: skip
INTERNAL_ERROR = 1
Check = Callable[[Target], Step]
DOCTOR_CHECKS: tuple[tuple[str, Check], ...] = (
    ("connect", check_connect),
    ("endpoint", check_endpoint),
    ("auth", check_auth),
    ("model", check_model),
    ("chat", check_chat),
    ("stream", check_stream),
    ("tools", check_tools),
)
MODELS_CHECKS = DOCTOR_CHECKS[:3]


def checks_for(api: str) -> tuple[tuple[str, Check], ...]:
    """The checks of `--api`: chat's own, or for another API: reach, auth and model, which of
    the five APIs the server answers, then one request of that API (`llm_load.doctor.apis`)."""
    if api == "chat":
        return DOCTOR_CHECKS
    return (*DOCTOR_CHECKS[:4], ("apis", check_apis), ("api", check_api(api)))


OnStep = Callable[[dict[str, Any]], None]


class DoctorRun:
    """One examination of `url`: the target, its secrets, and the steps run so far."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        environ: Mapping[str, str],
        model: str | None = None,
        timeout: float = 30.0,
        insecure: bool = False,
        api: str = "chat",
    ) -> None:
        self.api = api  # the API the verdict suggests (--api)
        key = resolve_key(api_key, environ)
        env_keys = tuple(name for name in KEY_ENV if environ.get(name))
        self.target = Target(url, key, model, timeout, env_keys=env_keys, insecure=insecure)
        self.secrets = secrets_of(url, key)
        self.steps: list[Step] = []
        self.server_metrics: dict[str, Any] | None = None  # server-metrics hook

    def header(self) -> dict[str, Any]:
        """What is examined, with the key shown redacted and its source."""
        key = self.target.key
        return scrub_secrets(
            {
                "target": display_url(self.target.url),
                "api_key": {"shown": key.shown, "source": key.source},
            },
            self.secrets,
        )

    def run(
        self, checks: tuple[tuple[str, Check], ...] = DOCTOR_CHECKS, on_step: OnStep | None = None
    ) -> None:
        """Run `checks` in order; report each step (scrubbed) to `on_step` as it completes."""
        stopped = False
        try:
            for name, check in checks:
                if stopped:
                    step = Step(name, "skip", "not checked (an earlier step failed)")
                else:
                    step = _guarded(name, check, self.target)
                    stopped = step.level == "fail" and step.stop
                self.steps.append(step)
                if on_step is not None:
                    on_step(scrub_secrets(step.to_dict(), self.secrets))
            if checks is not MODELS_CHECKS and self.steps[0].level != "fail":  # server-metrics
                self.server_metrics = probe_metrics(self.target)
        finally:
            self.target.session.close()

    @property
    def exit_code(self) -> int:
        for step in self.steps:
            if step.level == "fail":
                return EXIT_CODES.get(step.name, INTERNAL_ERROR)
        return 0

    def verdict(self) -> str:
        """One line: ready (and how to point the load test at it) or what to fix, in order."""
        failed = [s for s in self.steps if s.level == "fail"]
        if failed:
            what = "; then ".join(f"{s.name}: {s.summary or s.message}" for s in failed)
            return f"not ready (exit {self.exit_code}): {what}"
        t = self.target
        ready = f"ready: -H {host_for(t.base) if t.base else t.url} --model {t.model}"
        ready += " --insecure" if t.insecure else ""
        ready += f" --api {self.api}" if self.api != "chat" else ""
        if t.key.source != "none":
            ready += f" (API key from {t.key.source})"
        warned = [s.name for s in self.steps if s.level == "warn"]
        if warned:
            ready += f"; {len(warned)} warning{'s' * (len(warned) > 1)}: {', '.join(warned)}"
        return ready

    def result(self) -> dict[str, Any]:
        """The `--json` document (schema `llm-load/doctor/v1`)."""
        t = self.target
        doc = {
            "schema": "llm-load/doctor/v1",
            **self.header(),
            "model": t.model,
            "base_url": t.base,
            "suggested_host": host_for(t.base) if t.base else None,
            "steps": [step.to_dict() for step in self.steps],
            "verdict": self.verdict(),
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "server_metrics": self.server_metrics,  # server-metrics hook
        }
        return scrub_secrets(doc, self.secrets)


def _guarded(name: str, check: Check, target: Target) -> Step:
    """Run one check; a bug in it becomes a failed step, never a traceback with secrets."""
    try:
        return check(target)
    except Exception as exc:  # reported as the step's failure
        return Step(
            name,
            "fail",
            f"internal error in the {name} check: "
            f"{type(exc).__name__}: {exc} (a bug in llm-load doctor)",
        )


def run_doctor(
    url: str,
    *,
    api_key: str | None,
    environ: Mapping[str, str],
    model: str | None = None,
    timeout: float = 30.0,
    on_step: OnStep | None = None,
    insecure: bool = False,
) -> dict[str, Any]:
    """All checks against `url`; the scrubbed result document."""
    run = DoctorRun(url, api_key, environ, model, timeout, insecure)
    run.run(DOCTOR_CHECKS, on_step)
    return run.result()


def context_length(entry: dict[str, Any]) -> tuple[int | None, str | None]:
    """The context length a `/models` entry states, and the field it came from."""
    for name in ("max_model_len", "context_length", "context_window", "max_context_length"):
        value = entry.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value, name
    meta = entry.get("meta")
    if isinstance(meta, dict):
        for name in ("n_ctx", "n_ctx_train"):
            value = meta.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                return value, f"meta.{name}"
    return None, None


def _model_row(entry: dict[str, Any]) -> dict[str, Any]:
    length, source = context_length(entry)
    owner = entry.get("owned_by")
    return {
        "id": str(entry.get("id", "")),
        "owned_by": owner if isinstance(owner, str) else None,
        "max_model_len": length,
        "max_model_len_from": source,
    }


def list_models(
    url: str,
    *,
    api_key: str | None,
    environ: Mapping[str, str],
    timeout: float = 30.0,
    insecure: bool = False,
) -> dict[str, Any]:
    """`GET /models` with the doctor's connect/endpoint/auth diagnosis (schema
    `llm-load/models/v1`): `models` is empty unless every step passed."""
    run = DoctorRun(url, api_key, environ, timeout=timeout, insecure=insecure)
    run.run(MODELS_CHECKS)
    code = run.exit_code
    models = [] if code else [_model_row(m) for m in run.target.served]
    doc = {
        "schema": "llm-load/models/v1",
        **run.header(),
        "base_url": run.target.base,
        "models": models,
        "steps": [s.to_dict() for s in run.steps],
        "exit_code": code,
    }
    return scrub_secrets(doc, run.secrets)
