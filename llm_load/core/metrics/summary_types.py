"""The shapes of `summary.json` (schema `llm-load/summary/v1`) and of a worker's report.

TypedDicts, so the JSON stays a plain dict on disk and on the wire while readers and
writers are checked against one description. Field names are public: extend, never rename.
Latencies in ms, rates per second, shares 0..1. `total=False` marks fields that appear only
sometimes (tool traffic, an SLO, open loops, a distributed run, `--llm-requests`).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict, cast

__all__ = [
    "Arrivals",
    "BookWire",
    "Distribution",
    "ErrorEntry",
    "Goodput",
    "Metrics",
    "Point",
    "RequestsLog",
    "ShippedRows",
    "Stage",
    "Summary",
    "ThresholdResult",
    "TimeSeries",
    "ToolCalls",
    "WorkerReport",
    "plain",
]


class Distribution(TypedDict):
    """A histogram's stats; None values when it is empty."""

    count: int
    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None


class ToolCalls(TypedDict):
    expected: int
    correct: int
    accuracy: float
    by_error: dict[str, int]


class Goodput(TypedDict):
    slo: dict[str, float]
    good: int
    ratio: float | None
    requests_per_s: float
    output_tokens_per_s: float


class Metrics(TypedDict):
    """`METRICS`: one model's numbers, or the totals over every model."""

    requests: int
    failures: int
    cancelled: int
    requests_per_s: float
    input_tokens: int
    output_tokens: int
    output_tokens_per_s: float
    usage_reported: int
    usage_estimated: int
    error_rate: float
    connection_retries: int
    ttft_ms: Distribution
    itl_ms: Distribution
    tpot_ms: Distribution
    e2e_ms: Distribution
    request_output_tokens_per_s: Distribution
    tool_first_call_ms: NotRequired[Distribution]
    tool_call_ms: NotRequired[Distribution]
    tool_args_tokens_per_s: NotRequired[Distribution]
    task_ms: NotRequired[Distribution]
    tool_accuracy: NotRequired[float]
    tool_calls: NotRequired[ToolCalls]
    goodput: NotRequired[Goodput]
    api: NotRequired[str]  # by_model only: the API its calls used
    inputs_per_s: NotRequired[float]  # by_model embeddings only
    input_tokens_per_s: NotRequired[float]  # by_model embeddings only


class ErrorEntry(TypedDict):
    kind: str
    count: int
    example: str  # the server's own message (API key scrubbed)


class ThresholdResult(TypedDict):
    check: str
    value: float | None
    ok: bool


class Stage(TypedDict):
    index: int
    start_s: float
    label: str


class Point(TypedDict):
    """One time-series interval (completions counted by their end time)."""

    t_s: float
    users: int | None
    stage: int | None
    requests: int
    failures: int
    output_tokens: int
    requests_per_s: float
    output_tokens_per_s: float
    ttft_ms: dict[str, float | None]
    e2e_ms: dict[str, float | None]
    errors: dict[str, int]
    good: NotRequired[int]
    warmup: NotRequired[bool]  # the interval began during the warm-up
    before_reset: NotRequired[bool]  # ... before the web UI's "Reset stats"


class TimeSeries(TypedDict):
    interval_s: float
    points: list[Point]


class RequestsLog(TypedDict):
    path: str
    rows: int
    dropped: int


class Arrivals(TypedDict):
    """An open loop's arrivals: sent on time, late (`late_ms` behind) or dropped."""

    scheduled: int
    sent: int
    late: int
    dropped: int
    sent_per_s: float
    late_ms: float
    schedule_lag_ms: Distribution
    arrival: NotRequired[str]  # from the scenario: "constant", "poisson" or "trace"
    rate_per_s: NotRequired[float | None]
    time_scale: NotRequired[float]  # a replayed trace's


class Summary(TypedDict):
    schema: str
    started_at: str  # ISO 8601, UTC
    duration_s: float
    target: str
    settings: dict[str, Any]  # redacted
    totals: Metrics
    by_model: dict[str, Metrics]
    errors: list[ErrorEntry]
    timeseries: TimeSeries
    stages: list[Stage]
    thresholds: list[ThresholdResult]
    passed: bool
    interrupted: NotRequired[bool]
    workers_lost: NotRequired[int]  # 0 on a local run
    requests_log: NotRequired[RequestsLog]
    arrivals: NotRequired[Arrivals]
    server: NotRequired[dict[str, Any]]  # --server-metrics: the target's own account
    warmup: NotRequired[dict[str, Any]]  # requests left out of totals, and when it ended
    stats_reset: NotRequired[dict[str, Any]]  # the web UI's "Reset stats": when, measured_s
    tokenizer: NotRequired[dict[str, Any]]  # token counting: source, template overhead, dataset
    by_turn: NotRequired[dict[str, dict[str, Any]]]  # multi-turn: turn number -> its metrics


BookWire = dict[str, Any]  # `MetricsBook.to_dict()`: histograms as sparse bucket counts


class ShippedRows(TypedDict):
    rows: list[dict[str, Any]]
    dropped: int


class WorkerReport(TypedDict, total=False):
    """What a worker adds to Locust's `report_to_master` data (and sends as its final
    report): its book since the last report, and `--llm-requests` rows; the final report
    also its `tokenizer` summary object."""

    llm_load: BookWire
    llm_load_rows: ShippedRows
    llm_load_resets: int  # the master's "Reset stats" messages the worker had received
    llm_load_tokenizer: dict[str, Any]


def plain(summary: Summary) -> dict[str, Any]:
    """The summary as the plain dict the renderers read (they also read older files)."""
    return cast(dict[str, Any], summary)
