"""Ground-truth store: what the mock actually wrote, and when, for every chat completion.

All timestamps are server-side ``time.perf_counter()`` seconds taken immediately before the
corresponding ``transport.write``; reported durations are milliseconds relative to
``received_at``: when the kernel received the request's last bytes (Linux, see
``llm_load.mock.stamped_reads``; a busy mock reads late, and a client waits for that too), else
when the mock had parsed the request. Tool traffic adds counters: answers
to known tool cases by injected kind (``"correct"`` included), requests with tools that matched
no case, and ``tool`` messages received (and those answering no call id the mock issued). Each
record's ``fault`` is the injected fault the mock carried out (``http_<status>``, ``dropped``,
``stalled``, or None), and ``faults`` counts them by kind since the last reset, beyond the cap.
A chat request's ``history`` (shown with ``detail``) is the role and CRC-32 of each message's
text, in order: what a multi-turn conversation resent, checkable without storing prompts.
"""

from __future__ import annotations

import zlib
from array import array
from collections import deque
from typing import Any

from llm_load.mock.prefix_cache import prompt_text


def history_digests(messages: list[Any]) -> tuple[tuple[str, int], ...]:
    """(role, CRC-32 of the UTF-8 text) of each message (see the module doc)."""
    return tuple(
        (str(m.get("role")), zlib.crc32(prompt_text([m]).encode()))
        for m in messages
        if isinstance(m, dict)
    )


class TruthRecord:
    """Timing of one ``POST /v1/...`` generation request, filled in while it is served."""

    __slots__ = (
        "api",
        "cached_tokens",
        "completed",
        "end_at",
        "fault",
        "history",
        "id",
        "inputs",
        "messages",
        "model",
        "offsets",
        "prompt_chars",
        "reasoning_tokens",
        "received_at",
        "status",
        "stream",
        "tokens",
        "tool_answer",
        "tool_case",
    )

    def __init__(self, rid: int, received_at: float) -> None:
        self.id = rid
        self.received_at = received_at
        self.model = ""
        self.api = "chat"  # which API the request used: chat, responses, messages, ...
        self.inputs = 0  # texts of an embeddings request
        self.status = 0
        self.stream = False
        self.messages = 0
        self.prompt_chars = 0
        self.tokens = 0
        self.offsets = array("d")  # perf_counter() of each content-token write
        self.end_at: float | None = None  # perf_counter() of the last write
        self.completed = False
        self.fault: str | None = None  # injected fault carried out: http_<status>, dropped, stalled
        self.tool_answer = ""  # injected tool-answer kind ("correct" included) of a known case
        self.tool_case = ""  # id of that case
        self.cached_tokens: int | None = None  # prompt tokens from the prefix cache (if on)
        self.reasoning_tokens = 0  # of `tokens`, those that were reasoning (--reasoning-tokens)
        self.history: tuple[tuple[str, int], ...] = ()  # (role, crc32) per chat message

    def to_dict(self, detail: bool = False) -> dict[str, Any]:
        """JSON-ready view; ``detail`` adds ``token_offsets_ms``."""
        t0 = self.received_at
        offsets = self.offsets
        n = len(offsets)
        ok = self.status == 200 and n > 0
        out: dict[str, Any] = {
            "id": self.id,
            "model": self.model,
            "api": self.api,
            "status": self.status,
            "stream": self.stream,
            "received_at": t0,
            "ttft_ms": (offsets[0] - t0) * 1e3 if ok else None,
            "e2e_ms": (self.end_at - t0) * 1e3 if self.end_at is not None else None,
            "tokens": self.tokens,
            "itl_ms_mean": (offsets[-1] - offsets[0]) * 1e3 / (n - 1) if ok and n > 1 else None,
            "messages": self.messages,
            "prompt_chars": self.prompt_chars,
            "completed": self.completed,
            "fault": self.fault,
        }
        if self.inputs:
            out["inputs"] = self.inputs
        if self.tool_answer:
            out["tool_answer"], out["tool_case"] = self.tool_answer, self.tool_case
        if self.cached_tokens is not None:
            out["cached_tokens"] = self.cached_tokens
        if self.reasoning_tokens:
            out["reasoning_tokens"] = self.reasoning_tokens
        if detail:
            out["token_offsets_ms"] = [(t - t0) * 1e3 for t in offsets]
            out["history"] = [{"role": role, "crc32": crc} for role, crc in self.history]
        return out


class TruthStore:
    """Bounded, in-order collection of :class:`TruthRecord` (oldest dropped first)."""

    def __init__(self, max_records: int = 200_000) -> None:
        self._records: deque[TruthRecord] = deque(maxlen=max_records)
        self._next_id = 1
        self.total = 0  # requests since the last reset, including records the cap dropped
        self.faults: dict[str, int] = {}  # injected faults carried out, by kind
        self._clear_tools()

    def _clear_tools(self) -> None:
        self.tool_answers: dict[str, int] = {}  # answers to known tool cases by injected kind
        self.tool_unmatched = 0  # requests with tools matching no case (placeholder call)
        self.tool_results_received = 0  # ``tool`` messages at the end of a request
        self.tool_result_id_mismatches = 0  # ... whose tool_call_id the mock never issued

    def count_tool_answer(self, kind: str) -> None:
        """One answer to a known tool case, ``kind`` being ``"correct"`` or the injected one."""
        self.tool_answers[kind] = self.tool_answers.get(kind, 0) + 1

    def count_fault(self, kind: str) -> None:
        """One injected fault carried out (``http_<status>``, ``dropped`` or ``stalled``)."""
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def new(self, received_at: float) -> TruthRecord:
        """Create, store and return a record with the next request id."""
        record = TruthRecord(self._next_id, received_at)
        self._next_id += 1
        self.total += 1
        self._records.append(record)
        return record

    def reset(self) -> int:
        """Forget all records (ids keep increasing); return how many were dropped."""
        count = len(self._records)
        self._records.clear()
        self.total = 0
        self.faults = {}
        self._clear_tools()
        return count

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[TruthRecord]:
        """The records kept, oldest first."""
        return list(self._records)

    def snapshot(self, detail: bool = False) -> dict[str, Any]:
        """The ``GET /stats`` document."""
        records = [r.to_dict(detail) for r in self._records]
        return {
            "count": len(records),
            "total": self.total,
            "faults": dict(self.faults),
            "tool_answers": dict(self.tool_answers),
            "tool_unmatched": self.tool_unmatched,
            "tool_results_received": self.tool_results_received,
            "tool_result_id_mismatches": self.tool_result_id_mismatches,
            "requests": records,
        }
