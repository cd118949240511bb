"""Doctor checks of the API chosen with `llm-load doctor --api X` (docs/apis.md): which of the
five APIs the server answers (a 1-token request to each; only informs), and one request of X
(streamed unless it is embeddings) built and decoded by the load test's own protocol row, so
what passes here parses the same way under load. TTFT is the first event carrying text,
reasoning or a tool call, in ms from just before the request was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

import requests

from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.protocols import PROTOCOLS, Call, WireProtocol
from llm_load.core.wire.sse import SSEDecoder
from llm_load.doctor.base import Step, Target
from llm_load.plain_http import describe_error, server_message

__all__ = ["check_api", "check_apis"]

PROBE = [{"role": "user", "content": "Reply with one word: ready."}]
TOKENS = 16


def _post(t: Target, protocol: WireProtocol, call: Call, stream: bool) -> requests.Response:
    """The call in `protocol`'s body, with its auth headers (a messages key as x-api-key)."""
    headers = protocol.auth(t.key.value or "") if t.key.value is not None else {}
    body = protocol.body(call)
    return t.request("POST", f"{t.base}{protocol.path}", json=body, headers=headers, stream=stream)


def check_apis(t: Target) -> Step:
    """Which of the five APIs answer a 1-token, non-streamed request (never fails the run)."""
    answered: list[str] = []
    refused: dict[str, str] = {}
    for name, protocol in PROTOCOLS.items():
        call = Call(str(t.model), PROBE, 1, None, False)
        try:
            resp = _post(t, protocol, call, False)
        except requests.RequestException as exc:
            refused[name] = describe_error(exc, t.timeout)
            continue
        if resp.status_code == 200:
            answered.append(name)
        else:
            refused[name] = f"{resp.status_code} “{server_message(resp)[:100]}”"
    details = {"answered": answered, "refused": refused}
    message = f"answers {', '.join(answered) or 'none of the five APIs'}"
    if refused:
        message += "; not " + ", ".join(f"{k} ({v})" for k, v in refused.items())
    return Step("apis", "ok" if answered else "warn", message, details, stop=False)


def _read(t: Target, resp: requests.Response, acc: ChatStream, t0: float) -> int:
    """Decode an SSE body into `acc`; the number of events."""
    decoder, events = SSEDecoder(), 0
    for block in resp.iter_content(chunk_size=None):
        now = perf_counter() - t0
        for payload in decoder.feed(block):
            acc.add(payload, now)
            events += 1
        if now > t.timeout:
            acc.error = acc.error or f"the stream did not end within {t.timeout:g} s"
            break
    for payload in decoder.flush():
        acc.add(payload, perf_counter() - t0)
        events += 1
    return events


def _verdict(name: str, acc: ChatStream, events: int, ms: float) -> tuple[str, str]:
    if acc.error:
        return "fail", f"error in the response: “{acc.error}”"
    if acc.invalid_chunks:
        return "fail", f"{acc.invalid_chunks} events are not JSON, e.g. {acc.invalid_example!r}"
    if not acc.carried:
        return "fail", "the response carried no text, reasoning, tool call or vector"
    usage = f"usage: input {acc.prompt_tokens}, output {acc.completion_tokens} tokens"
    if name == "embeddings":
        dim = getattr(acc, "dimension", None)
        return "ok", f"embeddings → 1 vector of dimension {dim} in {ms:.0f} ms, {usage}"
    level = "ok" if acc.done and acc.completion_tokens is not None else "warn"
    ttft = acc.token_times_s[0] * 1e3 if acc.token_times_s else 0.0
    end = "end seen" if acc.done else "no end event (incomplete stream?)"
    text = f"{name} stream → TTFT {ttft:.0f} ms, {acc.token_chunks} token events in {ms:.0f} ms"
    return level, f"{text} ({events} events), {end}, {usage}"


def check_api(name: str) -> Callable[[Target], Step]:
    """The check of API `name`: one request, decoded by its protocol row."""
    protocol = PROTOCOLS[name]

    def check(t: Target) -> Step:
        what = f"POST {t.base}{protocol.path}"
        call = Call(str(t.model), PROBE, TOKENS, None, protocol.streams)
        acc, events, t0 = protocol.new_stream(), 0, perf_counter()
        try:
            with _post(t, protocol, call, protocol.streams) as resp:
                if resp.status_code != 200:
                    said = server_message(resp)
                    failed = {"status": resp.status_code, "server_message": said}
                    message = f"{what} → {resp.status_code}: “{said}”"
                    return Step("api", "fail", message, failed)
                if protocol.streams:
                    events = _read(t, resp, acc, t0)
                else:
                    protocol.parse(acc, resp.content)
        except requests.RequestException as exc:
            return Step("api", "fail", f"{what} failed: {describe_error(exc, t.timeout)}")
        except ValueError:
            return Step("api", "fail", f"{what} → 200 but the body is not JSON")
        ms = (perf_counter() - t0) * 1e3
        level, message = _verdict(name, acc, events, ms)
        details: dict[str, Any] = {"api": name, "usage": acc.usage, "events": events}
        details |= {"token_chunks": acc.token_chunks, "total_ms": round(ms, 2)}
        return Step("api", level, message, details)

    return check
