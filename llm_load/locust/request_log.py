"""`--llm-requests PATH.jsonl`: every LLM call as one JSON line, in one file on the master.

Workers do not write files of their own: they buffer rows and ship them with each
`report_to_master` (every 3 s), and the master appends them as they arrive, so a distributed
run (containers, several machines) ends with one complete file where the summary is. The
buffer is capped (`CAP` rows between shipments; more are counted as dropped and reported in
summary.json as `requests_log.dropped`), so neither side's memory grows with run length.
A local run appends its buffer once a second and at test stop. The file is truncated when a
test starts: it holds the latest test.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO, Any

from orjson import OPT_APPEND_NEWLINE, dumps

from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.request_log import RowBuffer, request_row
from llm_load.core.metrics.slo import SLO
from llm_load.core.metrics.summary_types import RequestsLog, WorkerReport

__all__ = ["CAP", "RequestLog"]

log = logging.getLogger("llm_load")
CAP = 50_000


class RequestLog:
    """The rows of one process; `path` is set on the process that writes the file."""

    def __init__(self, path: str, worker: str | None, slo: SLO | None = None) -> None:
        self.path = path
        self.worker = worker
        self.slo = slo  # rows say whether their call met it (`good`)
        self.buffer = RowBuffer(CAP)
        self.written = 0
        self.dropped = 0
        self._file: IO[bytes] | None = None

    def add(self, rec: RequestRecord) -> None:
        row = request_row(rec, self.slo)
        row["worker"] = self.worker
        self.buffer.append(row)

    # -- the writing process (local runner or master) --------------------------------
    def open(self) -> None:
        self.close()
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._file = target.open("wb")
        self.written = self.dropped = 0

    def flush(self, stage_of: Any = None) -> None:
        """Write the buffered rows (`stage_of(epoch_s)` adds each row's stage)."""
        rows, dropped = self.buffer.drain()
        self.write(rows, dropped, stage_of)

    def write(self, rows: list[dict[str, Any]], dropped: int, stage_of: Any = None) -> None:
        self.dropped += dropped
        if self._file is None:
            return
        out = self._file
        for row in rows:
            if stage_of is not None:
                row["stage"] = stage_of(row["ts"])
            out.write(dumps(row, option=OPT_APPEND_NEWLINE))
        out.flush()
        self.written += len(rows)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def summary(self) -> RequestsLog:
        return {"path": self.path, "rows": self.written, "dropped": self.dropped}

    # -- distributed -----------------------------------------------------------------
    def ship(self, data: WorkerReport) -> None:
        """Worker: move the buffered rows into a `report_to_master` message."""
        rows, dropped = self.buffer.drain()
        if rows or dropped:
            data["llm_load_rows"] = {"rows": rows, "dropped": dropped}

    def receive(self, data: WorkerReport, stage_of: Any = None) -> None:
        """Master: append the rows a worker shipped."""
        shipped = data.get("llm_load_rows")
        if shipped:
            self.write(shipped["rows"], int(shipped["dropped"]), stage_of)
