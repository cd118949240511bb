"""Backend details, the live request lines and the final compare table."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from llm_load.compare.config import resolve_config
from llm_load.compare.details import BackendSeen, response_details
from llm_load.compare.jobs import Job
from llm_load.compare.output import View, duration, result_table
from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.summary import build_summary
from llm_load.core.wire.endpoint import scrub_secrets as scrub

KEY = "sk-secret-key-123456"


def headers(**values: str) -> Any:
    lowered = {k.replace("_", "-"): v for k, v in values.items()}
    return lowered.get


def test_response_details_from_backend_object_and_headers() -> None:
    backend = {"machine_name": "gpu-07", "engine_type": "vllm", "empty": "", "gpu": {"n": 2}}
    got = response_details(backend, headers(server="uvicorn", openai_processing_ms="41"))
    assert got == {
        "machine_name": "gpu-07",
        "engine_type": "vllm",
        "gpu": '{"n": 2}',
        "server": "uvicorn",
        "openai-processing-ms": "41",
    }
    assert response_details("node-3", headers()) == {"backend": "node-3"}
    assert response_details(None, headers()) == {}


def test_backend_seen_keeps_distinct_values_and_timing_means() -> None:
    seen = BackendSeen()
    assert seen.empty and seen.text() == ""
    for machine, ms in (("a", "10"), ("b", "20"), ("a", "30"), ("c", "x"), ("d", "40")):
        seen.add({"machine_name": machine, "openai-processing-ms": ms})
    assert seen.values["machine_name"] == ["a", "b", "c", "d"]
    assert seen.text() == (
        "machine_name=a|b|c (+1 more), openai-processing-ms=x, openai-processing-ms≈25"
    )
    assert seen.to_dict()["openai-processing-ms_mean"] == 25.0


@pytest.mark.parametrize(
    ("ms", "text"),
    [(None, "-"), (0.4, "0 ms"), (412.2, "412 ms"), (2310, "2.31 s"), (90_000, "1.50 min")],
)
def test_duration(ms: float | None, text: str) -> None:
    assert duration(ms) == text


def make_view(**flags: Any) -> tuple[View, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=120, highlight=False, color_system=None)
    config = resolve_config({"endpoint": "http://h", "api_key": KEY, **flags}, {}, "/none")
    return View(console, config, lambda obj: scrub(obj, (KEY,))), out


def record(ok: bool = True, **extra: Any) -> RequestRecord:
    if ok:
        return RequestRecord(
            "m", 0.0, 0.5, ttft_s=0.05, token_times_s=(0.05, 0.5), output_tokens=10, **extra
        )
    return RequestRecord("m", 0.0, 0.003, error_kind="http_403", **extra)


def test_request_lines_success_and_error_with_server_message() -> None:
    view, out = make_view()
    view.models(("m",), discovered=False)
    view.request(Job("m", 1, 2), record(), {"machine_name": "gpu-07"})
    message = f"Prompt blocked for security reasons (key {KEY})"
    view.request(Job("m", 2, 2), record(False, error_message=message), {})
    view.request(Job("m", 2, 2), RequestRecord("m", 0.0, 0.1, cancelled=True), {})
    lines = out.getvalue().splitlines()
    assert lines[0] == "models (1, from --models): m"
    assert lines[1].startswith("✓ m #1/2")
    assert "500 ms" in lines[1] and "TTFT 50 ms" in lines[1] and "20.0 tok/s" in lines[1]
    assert lines[1].endswith("machine_name=gpu-07")
    assert lines[2].startswith("✗ m #2/2") and "http_403: Prompt blocked for security" in lines[2]
    assert len(lines) == 3  # a cancelled request has no line
    assert KEY not in out.getvalue() and "sk-…3456" in out.getvalue()


def test_debug_exchange_redacts_the_key() -> None:
    view, out = make_view(debug=True)
    view.header()
    body = b'{"error": {"message": "bad key ' + KEY.encode() + b'"}}'
    view.exchange("POST", "http://h/v1/chat/completions", b'{"model": "m"}', 401,
                  headers={"server": "x"}, error_body=body)  # fmt: skip
    text = out.getvalue()
    assert KEY not in text
    assert '"Authorization": "Bearer sk-…3456"' in text
    assert "status 401 Unauthorized" in text and "error body:" in text
    assert "bad key sk-…3456" in text
    assert "api_key = '(hidden)'  <- --api-key" in text


def summary_of(records: list[RequestRecord]) -> dict[str, Any]:
    book = MetricsBook()
    for rec in records:
        book.add(rec)
    return build_summary(book, started_at=0.0, duration_s=1.0, target="http://h", settings={})


def test_result_table_rows_in_model_order_with_backend_column() -> None:
    ok = RequestRecord("b", 0.0, 0.2, ttft_s=0.02, token_times_s=(0.02, 0.2), output_tokens=4)
    summary = summary_of([record(), record(False), ok])
    extras = {
        "m": {"total_time_ms": 503.0, "ok_output_tokens": 10, "backend_text": "machine_name=x"},
        "b": {"total_time_ms": 200.0, "ok_output_tokens": 4, "backend_text": ""},
    }
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(result_table(summary, ("m", "b"), extras))
    rows = [line for line in out.getvalue().splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == ["m", "b"]
    cells = [c.strip() for c in rows[0].split("│")[1:-1]]
    assert cells == ["m", "1", "1", "500 ms", "503 ms", "50 ms", "20.0", "10", "machine_name=x"]
    cells = [c.strip() for c in rows[1].split("│")[1:-1]]
    assert cells == ["b", "1", "0", "200 ms", "200 ms", "20 ms", "20.0", "4", ""]
