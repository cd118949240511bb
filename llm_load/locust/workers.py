"""The master's account of its workers: who connected, who went missing, who reported last.

Locust forgets a worker once its heartbeats stop, so `lost` keeps them for the summary's
`workers_lost`. `runner.quit()` (a headless `-t` ending) fires the master's test_stop before
the workers hear of it, and stops listening 0.5 s later: `stop_users` sends every worker
that has not yet sent its final report `STOP_USERS` and waits for that report, so a run's
last requests fall inside it and none is lost. `knows` tells this master's workers from the
orphans of a killed master, which keep reporting to whoever listens on the port.
A web UI "Reset stats" goes to every worker as `RESET_STATS` with a running number the
worker echoes in each report (`llm_load_resets`): a report with a smaller number than the
master last sent that worker was made before it heard of the reset (it crossed the message),
so `stale` tells the master to keep only its time series.
"""

from __future__ import annotations

from locust.runners import STATE_MISSING, MasterRunner

import logging
import time

import gevent

__all__ = ["RESET_STATS", "STOP_USERS", "Workers"]

log = logging.getLogger("llm_load")
STOP_USERS = "llm_load_stop_users"
RESET_STATS = "llm_load_reset_stats"
FINAL_REPORT_TIMEOUT_S = 10.0  # beyond --stop-timeout, for workers to stop and report


class Workers:
    """What one master knows of its workers (client ids)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()  # ever connected to this master
        self.lost: set[str] = set()  # stopped sending heartbeats during this test
        self.reported: set[str] = set()  # final report of this test received
        self.resets = 0  # "Reset stats" messages sent (a running number, never reset)
        self.expected: dict[str, int] = {}  # client id -> the last number sent to it

    def reset(self) -> None:
        """A new test starts: nobody lost, nobody reported yet."""
        self.lost.clear()
        self.reported.clear()

    def reset_stats(self, runner: MasterRunner) -> None:
        """Tell every worker to reset its LLM numbers (see the module doc)."""
        self.resets += 1
        for client in runner.clients.all:
            self.expected[client.id] = self.resets
            runner.send_message(RESET_STATS, {"resets": self.resets}, client_id=client.id)

    def stale(self, client_id: str, resets: int) -> bool:
        """Whether a report echoing `resets` was made before the worker's last reset."""
        return resets < self.expected.get(client_id, 0)

    def knows(self, runner: MasterRunner, client_id: str) -> bool:
        return client_id in self.seen or client_id in runner.clients

    def note_missing(self, runner: MasterRunner) -> None:
        """Remember every worker Locust's heartbeat check marks missing (it forgets them)."""
        for client in runner.clients.missing:
            if client.id not in self.lost:
                log.warning("worker %s stopped sending heartbeats: counted as lost", client.id)
                self.lost.add(client.id)

    def stop_users(self, runner: MasterRunner, stop_timeout_s: float) -> None:
        """Stop the users of workers that have not sent their final report, and wait for it
        (at most `stop_timeout_s` + `FINAL_REPORT_TIMEOUT_S`)."""
        pending = {
            client.id
            for client in runner.clients.all
            if client.id not in self.reported and client.state != STATE_MISSING
        }
        for client_id in pending:
            runner.send_message(STOP_USERS, client_id=client_id)
        deadline = time.monotonic() + stop_timeout_s + FINAL_REPORT_TIMEOUT_S
        while not pending <= self.reported and time.monotonic() < deadline:
            gevent.sleep(0.05)
        if not pending <= self.reported:
            log.warning("%d worker(s) sent no final report", len(pending - self.reported))
