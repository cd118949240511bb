"""The master's account of its workers: who connected, who went missing, who reported last.

Locust forgets a worker once its heartbeats stop, so `lost` keeps them for the summary's
`workers_lost`. `runner.quit()` (a headless `-t` ending) fires the master's test_stop before
the workers hear of it, and stops listening 0.5 s later: `stop_users` sends every worker
that has not yet sent its final report `STOP_USERS` and waits for that report, so a run's
last requests fall inside it and none is lost. `knows` tells this master's workers from the
orphans of a killed master, which keep reporting to whoever listens on the port.
"""

from __future__ import annotations

from locust.runners import STATE_MISSING, MasterRunner

import logging
import time

import gevent

__all__ = ["STOP_USERS", "Workers"]

log = logging.getLogger("llm_load")
STOP_USERS = "llm_load_stop_users"
FINAL_REPORT_TIMEOUT_S = 10.0  # beyond --stop-timeout, for workers to stop and report


class Workers:
    """What one master knows of its workers (client ids)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()  # ever connected to this master
        self.lost: set[str] = set()  # stopped sending heartbeats during this test
        self.reported: set[str] = set()  # final report of this test received

    def reset(self) -> None:
        """A new test starts: nobody lost, nobody reported yet."""
        self.lost.clear()
        self.reported.clear()

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
