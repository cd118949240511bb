"""Run `llm-load compare` on our engine: Locust as a library, in this process.

A `locust.env.Environment` with a local runner, our options and listeners (`install` +
Locust's `init` event, exactly as a locustfile gets them) and `CompareUser`s, one per
request that may be in flight (`JobBoard.users`). Users take (model, pass) jobs until
none is left, so every request goes through `LLMUser.chat_completion` and the run's
`MetricsBook`; the summary is `LLMRun.summary()` (the load test's `summary.json` schema)
with the compare settings and a `compare` section (per-model total time and backend
details). Models come from `--models` or from `GET /models`. Exit codes: 0 every request
succeeded, 1 some failed (or the model list could not be read, or Ctrl-C).
"""

from __future__ import annotations

from locust.env import Environment
from locust.event import Events

import argparse
import signal
import time
from collections.abc import Callable
from typing import Any

import gevent
import requests
from gevent.event import Event

from llm_load.compare.config import CompareConfig
from llm_load.compare.details import BackendSeen, response_details
from llm_load.compare.jobs import Job, JobBoard
from llm_load.compare.output import View, make_console
from llm_load.compare.user import CompareUser, Exchange
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.summary import write_summary
from llm_load.core.metrics.summary_types import plain
from llm_load.core.wire.endpoint import ApiKey, api_base, model_ids, scrub_secrets, secrets_of
from llm_load.locust import install, llm_run
from llm_load.locust.options import parsed_defaults
from llm_load.plain_http import describe_error, new_session, server_message

__all__ = ["CompareSession", "DiscoveryError", "discover_models", "run_compare"]

OK, FAILED = 0, 1
USERS_EXIT_S = 5.0


class DiscoveryError(Exception):
    """`GET /models` did not give a usable list of models."""


class CompareSession:
    """The jobs of one run and what their responses said, shared by its users."""

    def __init__(self, config: CompareConfig, models: tuple[str, ...], view: View) -> None:
        self.config = config
        self.view = view
        self.board = JobBoard(
            models, config.passes, config.parallel_models, config.parallel_requests
        )
        self.messages = [{"role": "user", "content": config.prompt}]
        self.finished = Event()
        self.interrupted = False
        self._changed = Event()
        self.backend = {m: BackendSeen() for m in models}
        self.total_ms = dict.fromkeys(models, 0.0)
        self.ok_tokens = dict.fromkeys(models, 0)
        self.url = api_base(config.endpoint) + "/chat/completions"

    def interrupt(self) -> None:
        """Stop now (Ctrl-C): requests in flight are cancelled, no new one starts."""
        self.interrupted = True
        self.finished.set()

    def next_job(self) -> Job | None:
        """The next job; waits while all allowed requests are in flight; None at the end."""
        while not self.interrupted:
            job = self.board.take()
            if job is not None or self.board.finished:
                return job
            self._changed.wait()
        return None

    def job_done(self, job: Job, record: RequestRecord | None, exchange: Exchange) -> None:
        """Free the job's slot, wake waiting users, and show the request (None: cancelled)."""
        self.board.done(job)
        changed, self._changed = self._changed, Event()
        changed.set()
        if self.board.finished:
            self.finished.set()
        if record is not None:
            self._show(job, record, exchange)

    def _show(self, job: Job, record: RequestRecord, exchange: Exchange) -> None:
        stream = exchange.stream
        details = response_details(stream.backend if stream else None, exchange.headers.get)
        self.backend[job.model].add(details)
        self.total_ms[job.model] += record.e2e_ms
        self.ok_tokens[job.model] += record.output_tokens if record.ok else 0
        if self.config.debug:
            reply = stream.content if stream is not None and record.ok else ""
            self.view.exchange(
                "POST", self.url, exchange.request_body, exchange.status,
                headers=exchange.headers, error_body=exchange.error_body, reply=reply,
            )  # fmt: skip
        self.view.request(job, record, details)

    def extras(self) -> dict[str, dict[str, Any]]:
        """Per model: total time of all requests (ms) and the backend details seen."""
        return {
            m: {
                "total_time_ms": self.total_ms[m],
                "ok_output_tokens": self.ok_tokens[m],
                "backend": self.backend[m].to_dict(),
                "backend_text": self.backend[m].text(),
            }
            for m in self.board.models
        }


def discover_models(config: CompareConfig, view: View) -> tuple[str, ...]:
    """The ids served by `GET {base}/models`, in the server's order."""
    url = api_base(config.endpoint) + "/models"
    session = new_session()  # no proxy or .netrc credentials replacing our key
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    try:
        resp = session.get(url, headers=headers, timeout=config.timeout_s)
    except requests.RequestException as error:
        raise DiscoveryError(f"GET {url}: {describe_error(error, config.timeout_s)}") from None
    finally:
        session.close()
    failed = resp.status_code >= 300
    if config.debug:
        body = resp.content if failed else None
        view.exchange(
            "GET", url, None, resp.status_code, headers=dict(resp.headers), error_body=body
        )
    if failed:
        raise DiscoveryError(
            f"GET {url} answered {resp.status_code}: {server_message(resp)}\n"
            f"  give the models with --models a,b, or run `llm-load doctor -H "
            f"{config.endpoint}` for a step-by-step diagnosis"
        )
    ids = model_ids(resp.content)
    if ids is None:
        raise DiscoveryError(f"GET {url}: not an OpenAI model list")
    if not ids:
        raise DiscoveryError(f"GET {url}: the server lists no models; give them with --models")
    return ids


def locust_options(config: CompareConfig, model: str) -> argparse.Namespace:
    """The parsed options our Locust layer reads (`llm_load.locust.options`), plus Locust's."""
    return parsed_defaults(
        model=model,
        api_key=config.api_key or "",
        max_tokens=config.max_tokens,
        prompt=config.prompt,
        temperature=config.temperature,
        no_stream=config.no_stream,
        api=config.api,
        request_timeout=config.timeout_s,
        headless=True,
        enable_rebalancing=False,
    )


def _run_users(session: CompareSession) -> tuple[dict[str, Any], bool]:
    """Run every job with in-process Locust; the summary, and whether Ctrl-C cut it short."""
    config = session.config
    options = locust_options(config, session.board.models[0])
    events = Events()
    install(events)
    env = Environment(
        user_classes=[CompareUser], events=events, host=config.endpoint, parsed_options=options
    )
    env.compare = session  # type: ignore[attr-defined]
    runner = env.create_local_runner()
    events.init.fire(environment=env, runner=runner, web_ui=None)
    run = llm_run(env)
    # Compare prints its own table and writes its own summary: not the load test's.
    events.test_stop.remove_listener(run.role.on_test_stop)
    users = session.board.users
    handlers = _stop_on_signals(session.interrupt)
    runner.start(users, spawn_rate=users)
    try:
        session.finished.wait()
        if not session.interrupted:
            runner.user_greenlets.join(timeout=USERS_EXIT_S)  # each stops at its next take()
    finally:
        run.stopped_perf = time.perf_counter()
        runner.quit()  # an interrupted request is counted as cancelled
        for handler in handlers:
            handler.cancel()
    if run.reactor is not None:
        run.reactor.close()
    return plain(run.summary()), session.interrupted


def _stop_on_signals(stop: Callable[[], None]) -> list[Any]:
    """Ctrl-C and SIGTERM end the run early (its results are still shown and written)."""
    return [
        gevent.signal_handler(sig, stop)
        for sig in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(sig) is not signal.SIG_IGN
    ]


def run_compare(config: CompareConfig) -> int:
    """The whole command: header, models, live lines, table, `--llm-json`; the exit code."""
    secrets = secrets_of(config.endpoint, ApiKey(config.api_key, config.sources["api_key"]))
    view = View(make_console(), config, lambda obj: scrub_secrets(obj, secrets))
    view.header()
    models, discovered = config.models, not config.models
    if discovered:
        try:
            models = discover_models(config, view)
        except DiscoveryError as error:
            view.say(f"✗ cannot list the models: {error}", "bold red")
            return FAILED
    view.models(models, discovered)
    session = CompareSession(config, models, view)
    summary, interrupted = _run_users(session)
    extras = session.extras()
    summary["settings"] = {**config.public(), "models": list(models)}
    summary["compare"] = {
        m: {k: v for k, v in extra.items() if k != "backend_text"} for m, extra in extras.items()
    }
    summary = scrub_secrets(summary, secrets)
    view.results(summary, models, extras)
    if config.llm_json:
        write_summary(summary, config.llm_json)
        view.say(f"summary written to {config.llm_json}")
    totals = summary["totals"]
    expected = len(models) * config.passes
    if interrupted or totals["failures"] or totals["requests"] != expected:
        return FAILED
    return OK
