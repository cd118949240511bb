"""The mock's fault injection: which requests get which fault, and what the replies then do."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from itertools import pairwise

import orjson
import pytest

from llm_load.mock import payload
from llm_load.mock.chat import ChatCompletions
from llm_load.mock.cli import build_parser, config_from_args
from llm_load.mock.config import MockConfig
from llm_load.mock.faults import DROPPED, STALLED, Fault, FaultPicker, Faults, injected_error
from llm_load.mock.truth import TruthStore


def picks(picker: FaultPicker, n: int, tokens: int = 16) -> list:
    return [picker.pick(tokens) for _ in range(n)]


def test_the_same_seed_gives_the_same_faults_and_another_seed_others():
    a = picks(FaultPicker(0.1, 0.05, 0.05, 503, seed=7), 2000)
    assert a == picks(FaultPicker(0.1, 0.05, 0.05, 503, seed=7), 2000)
    assert a != picks(FaultPicker(0.1, 0.05, 0.05, 503, seed=8), 2000)


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_shares_follow_the_rates(seed):
    n = 20_000
    got = Counter(f.kind if f else None for f in picks(FaultPicker(0.1, 0.05, 0.02, 503, seed), n))
    for kind, rate in (("http_503", 0.1), ("dropped", 0.05), ("stalled", 0.02)):
        sigma = math.sqrt(n * rate * (1 - rate))
        assert abs(got[kind] - n * rate) < 5 * sigma, (kind, got)
    assert sum(got.values()) == n


def test_positions_cover_every_token_before_the_end():
    faults = picks(FaultPicker(0.0, 0.5, 0.5, 503, seed=3), 4000, tokens=8)
    for kind in (DROPPED, STALLED):
        assert {f.at for f in faults if f.kind == kind} == set(range(8))
    assert all(f.status == 0 for f in faults)


def test_rate_one_and_custom_status():
    faults = picks(FaultPicker(1.0, 0.0, 0.0, 429, seed=0), 100)
    assert {(f.kind, f.status, f.at) for f in faults} == {("http_429", 429, 0)}
    assert set(picks(FaultPicker(0.0, 0.0, 0.0, 503, seed=0), 100)) == {None}


def test_no_fault_configured_means_no_picker():
    truth = TruthStore()
    assert FaultPicker.from_config(MockConfig()) is None
    assert Faults.from_config(MockConfig(), truth) is None
    assert Faults.from_config(MockConfig(stall_rate=0.1), truth) is not None


def test_faults_leave_the_jitter_draws_alone():
    def jitters(config: MockConfig) -> list[float]:
        chat = ChatCompletions(config, TruthStore(), lambda req: None)
        return [chat._factor() for _ in range(50)]

    plain = jitters(MockConfig(jitter=0.2, seed=5))
    assert plain == jitters(MockConfig(jitter=0.2, seed=5, error_rate=0.3, drop_rate=0.3))


@pytest.mark.parametrize(
    ("status", "kind", "retry_after"),
    [(503, "ServiceUnavailableError", None), (429, "RateLimitError", "1"), (418, "APIError", None)],
)
def test_injected_error_is_openai_shaped(status, kind, retry_after):
    err, extra = injected_error(status)
    raw = payload.response(err.status, payload.error_body(err.status, err.message, err.kind),
                           close=False, extra=extra)  # fmt: skip
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status)
    error = orjson.loads(body)["error"]
    assert error["type"] == kind and error["code"] == status
    assert "injected by llm-load mock" in error["message"]
    assert (b"Retry-After: 1\r\n" in head + b"\r\n") == (retry_after is not None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--error-rate", "1.5"], "error rate must be within"),
        (["--drop-rate", "-0.1"], "drop rate must be within"),
        (["--error-rate", "0.6", "--stall-rate", "0.6"], "add up to at most 1"),
        (["--error-status", "302"], "4xx or 5xx"),
    ],
)
def test_invalid_fault_options_are_refused(argv, message):
    with pytest.raises(ValueError, match=message):
        config_from_args(build_parser().parse_args(argv))


def test_fault_options_reach_the_config():
    argv = ["--error-rate", "0.1", "--error-status", "429", "--drop-rate", "0.05",
            "--stall-rate", "0.02", "--stall-s", "2.5", "--seed", "9"]  # fmt: skip
    c = config_from_args(build_parser().parse_args(argv))
    assert (c.error_rate, c.error_status, c.drop_rate, c.stall_rate, c.stall_s, c.seed) == (
        0.1, 429, 0.05, 0.02, 2.5, 9,
    )  # fmt: skip


class FakeConn:
    """What a reply needs of a connection: writes, finish, drop."""

    keep_alive = True

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.finished = self.dropped = False
        self.reply = None

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def finish(self, data: bytes) -> None:
        self.writes.append(data)
        self.finished = True

    def drop(self) -> None:
        self.dropped = True


def serve_one(fault_kind: str, at: int, stream: bool, stall_s: float = 0.05, n: int = 6):
    """Serve one reply carrying `fault_kind` at token `at` on a fake connection."""
    truth = TruthStore()
    faults = Faults(FaultPicker(0.0, 0.0, 0.0, 503, 0), stall_s, truth)
    conn, fault = FakeConn(), Fault(fault_kind, 0, at)

    async def main() -> float:
        record = truth.new(time.perf_counter())
        t0 = asyncio.get_running_loop().time()
        if stream:
            frames = payload.StreamFrames(1, 0, "m", n, "stop", None)
            reply = faults.stream(fault, conn, record, frames, 0.001, None)
        else:
            reply = faults.delayed(fault, conn, record, b"BODY", n)
        reply.start(0.001)
        while not (conn.finished or conn.dropped):
            await asyncio.sleep(0.005)
        return asyncio.get_running_loop().time() - t0

    elapsed = asyncio.run(main())
    return conn, truth, elapsed


@pytest.mark.parametrize("at", [0, 3, 5])
def test_a_dropped_stream_writes_at_tokens_then_closes(at):
    conn, truth, _ = serve_one(DROPPED, at, stream=True)
    record = truth.snapshot()["requests"][0]
    assert conn.dropped and not conn.finished
    assert len(conn.writes) == 1 + at  # headers with the role chunk, then `at` tokens
    assert (record["fault"], record["tokens"], record["completed"]) == ("dropped", at, False)
    assert truth.faults == {"dropped": 1}


def test_a_stalled_stream_pauses_once_then_completes():
    conn, truth, elapsed = serve_one(STALLED, 2, stream=True, stall_s=0.2)
    record = truth.snapshot(detail=True)["requests"][0]
    assert conn.finished and not conn.dropped and elapsed >= 0.2
    assert (record["fault"], record["tokens"], record["completed"]) == ("stalled", 6, True)
    offsets = record["token_offsets_ms"]
    gaps = [b - a for a, b in pairwise(offsets)]
    assert [i for i, gap in enumerate(gaps) if gap >= 195] == [1]  # before token 2, once
    assert truth.faults == {"stalled": 1}


def test_non_streamed_replies_drop_or_stall_when_due():
    conn, truth, _ = serve_one(DROPPED, 0, stream=False)
    assert conn.dropped and conn.writes == [] and truth.faults == {"dropped": 1}
    conn, truth, elapsed = serve_one(STALLED, 0, stream=False, stall_s=0.2)
    assert conn.finished and conn.writes == [b"BODY"] and elapsed >= 0.2
    assert truth.snapshot()["requests"][0]["fault"] == "stalled"


def test_truth_counts_faults_until_reset():
    truth = TruthStore()
    record = truth.new(0.0)
    assert record.to_dict()["fault"] is None
    record.fault = "http_503"
    truth.count_fault("http_503")
    snap = truth.snapshot()
    assert snap["faults"] == {"http_503": 1} and snap["requests"][0]["fault"] == "http_503"
    truth.reset()
    assert truth.snapshot()["faults"] == {}
