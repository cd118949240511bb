"""What `llm-load compare` prints: the settings, one coloured line per finished request,
`--debug` exchanges, and the final per-model table (rich).

Every text that may carry the API key (server messages, bodies, headers) passes through
`View.safe`, which replaces the key with its redaction; the `Authorization` header is
only ever shown as `Bearer sk-…abcd`. Colours only on a terminal; plain text otherwise.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from llm_load.compare.config import FIELDS, CompareConfig
from llm_load.compare.jobs import Job
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.wire.endpoint import redact

__all__ = ["View", "duration", "make_console", "result_table"]

MAX_BODY_CHARS = 2000
REPLY_PREVIEW = 120


def make_console() -> Console:
    """stdout, never narrower than 100 columns when it is not a terminal (CI logs)."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    return console


def duration(ms: float | None) -> str:
    """`412 ms`, `2.31 s`, `1.50 min` (as the seed tester shows times)."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.2f} min"


def _json_text(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + "…"


class View:
    """Prints to `console`; `safe` scrubs secrets from any text before it is shown."""

    def __init__(self, console: Console, config: CompareConfig, safe: Callable[[Any], Any]):
        self.console = console
        self.config = config
        self.safe = safe
        self.width = 12

    def say(self, text: str, style: str = "") -> None:
        self.console.print(escape(self.safe(text)), style=style or None, soft_wrap=True)

    def header(self) -> None:
        c = self.config
        self.say(f"llm-load compare: {c.endpoint} ({c.key_shown})", "bold")
        mode = "streaming" if c.stream else "non-streaming"
        self.say(
            f"passes {c.passes} per model, {c.parallel_models} model(s) at a time, "
            f"{c.parallel_requests} request(s) at a time per model; {mode}, temperature "
            f"{c.temperature:g}, max_tokens {c.max_tokens}, timeout {c.timeout_s:g} s"
        )
        self.say(f"prompt: {c.prompt}", "dim")
        if c.debug:
            for spec in FIELDS:
                value = "(hidden)" if spec.name == "api_key" else getattr(c, spec.name)
                self.say(f"[debug] {spec.name} = {value!r}  <- {c.sources[spec.name]}", "cyan")

    def models(self, models: tuple[str, ...], discovered: bool) -> None:
        self.width = min(max(len(m) for m in models), 40)
        how = "served by GET /models" if discovered else "from --models"
        self.say(f"models ({len(models)}, {how}): {', '.join(models)}", "yellow")

    def request(self, job: Job, rec: RequestRecord, details: Mapping[str, str]) -> None:
        """One line for one finished request."""
        if rec.cancelled:
            return
        head = f"{job.model:<{self.width}} #{job.number}/{job.passes}  {duration(rec.e2e_ms):>9}"
        if not rec.ok:
            self.console.print(
                f"[bold red]✗[/] {escape(head)}  [red]{escape(rec.error_kind or '')}: "
                f"{escape(self.safe(rec.error_message or ''))}[/]",
                soft_wrap=True,
            )
            return
        ttft = f"TTFT {duration(rec.ttft_ms)}" if rec.ttft_ms is not None else "TTFT -"
        rate = rec.output_tokens_per_s or 0.0
        line = f"{head}  {ttft:>12}  {rate:7.1f} tok/s  {rec.output_tokens} tok"
        extra = ", ".join(f"{k}={v}" for k, v in details.items())
        tail = f"  [dim]{escape(self.safe(extra))}[/]" if extra else ""
        self.console.print(f"[bold green]✓[/] {escape(line)}{tail}", soft_wrap=True)

    def exchange(self, method: str, url: str, body: bytes | None, status: int, **seen: Any) -> None:
        """`--debug`: the request (key redacted) and the response, with any error body."""
        key = self.config.api_key
        headers = {"Content-Type": "application/json"} if body else {}
        if key is not None:
            headers["Authorization"] = f"Bearer {redact(key)}"
        self.say(f"[debug] → {method} {url}", "cyan")
        self.say(f"[debug]   request headers: {json.dumps(headers, ensure_ascii=False)}", "cyan")
        if body:
            self.say(f"[debug]   request body: {_json_text(body)}", "cyan")
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        self.say(f"[debug] ← status {status} {reason}".rstrip(), "cyan")
        if seen.get("headers"):
            self.say(f"[debug]   response headers: {json.dumps(seen['headers'])}", "cyan")
        if seen.get("error_body") is not None:
            self.say(f"[debug]   error body: {_json_text(seen['error_body'])}", "cyan")
        if seen.get("reply"):
            reply = seen["reply"][:REPLY_PREVIEW] + ("…" if len(seen["reply"]) > 120 else "")
            self.say(f"[debug]   reply: {reply!r}", "cyan")

    def results(
        self, summary: dict[str, Any], models: tuple[str, ...], extras: Mapping[str, Any]
    ) -> None:
        """The final table, the errors with the server's own messages, and a total line."""
        self.console.print(result_table(summary, models, extras, self.safe))
        for error in summary["errors"]:
            self.say(f"error {error['kind']} ×{error['count']}: {error['example']}", "red")
        totals = summary["totals"]
        ok = totals["requests"] - totals["failures"]
        style = "bold green" if totals["failures"] == 0 and not totals["cancelled"] else "bold red"
        count = totals["requests"]
        line = f"{count} request{'s' * (count != 1)}: {ok} ok, {totals['failures']} failed"
        if totals["cancelled"]:
            line += f", {totals['cancelled']} cancelled (interrupted)"
        self.say(f"{line}, in {summary['duration_s']:.2f} s", style)


def _row(name: str, m: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    ok = m["requests"] - m["failures"]
    rate = m["request_output_tokens_per_s"]["mean"]
    errors = f"[bold red]{m['failures']}[/]" if m["failures"] else "0"
    return [
        escape(name),
        str(ok),
        errors,
        duration(m["e2e_ms"]["mean"]),
        duration(extra.get("total_time_ms")),
        duration(m["ttft_ms"]["p50"]),
        f"{rate:.1f}" if rate is not None else "-",
        f"{extra.get('ok_output_tokens', 0) / ok:.0f}" if ok else "-",
    ]


def result_table(
    summary: dict[str, Any],
    models: tuple[str, ...],
    extras: Mapping[str, Any],
    safe: Callable[[str], str] = str,
) -> Table:
    """One row per model, in the order tested; a backend column when any server said.

    `extras[model]` holds `total_time_ms` and `backend_text`."""
    backend = {m: extras.get(m, {}).get("backend_text", "") for m in models}
    table = Table(title="llm-load compare", title_justify="left", header_style="bold magenta")
    heads = ("model", "ok", "errors", "mean time", "total time", "TTFT p50", "tok/s", "out tok")
    for head in heads:
        table.add_column(head, justify="left" if head == "model" else "right")
    if any(backend.values()):
        table.add_column("backend", overflow="fold")
    for name in models:
        m = summary["by_model"].get(name)
        if m is None:
            continue
        row = _row(name, m, extras.get(name, {}))
        if any(backend.values()):
            row.append(escape(safe(backend[name])))
        table.add_row(*row)
    table.caption = "means over successful requests; total time: all requests added up"
    return table
