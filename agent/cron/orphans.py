"""Run records left `queued` or `running` by a process that is gone: closed as `interrupted`.

A run is recorded `queued` when its fire is committed and `running` when it starts; the process that
wrote it closes it. After a kill -9 (or a power cut) nobody does, so every reader of the history (the
daemon at start-up, `agent cron history|show|status`, `/cron history`) first settles such records: the
record names its process by pid and start time (as the scheduler lock does, so a reused pid does not
keep a dead run open), and a record of this machine whose process is gone becomes `interrupted`.
Records written on another host are left alone: their process cannot be seen from here.
"""

from __future__ import annotations

import logging
import os
import socket

from agent.cron.history import RunHistory, RunRecord
from agent.cron.lock_owner import LockInfo, owner_is_alive, proc_start_token

__all__ = ["ORPHAN_ERROR", "process_is_gone", "settle_orphans", "this_process_start"]

log = logging.getLogger(__name__)

ORPHAN_ERROR = "interrupted: the process that {did} it (pid {pid}) is gone (killed or crashed) before it ended"


def this_process_start() -> str | None:
    """This process's start token, recorded with each run (see agent.cron.lock_owner)."""
    return proc_start_token(os.getpid())


def process_is_gone(record: RunRecord, host: str) -> bool:
    """True when the record was written on this host by a process that no longer runs."""
    if record.host != host:
        return False
    if record.pid is None:
        return True
    return not owner_is_alive(LockInfo("", record.pid, record.proc_start, record.started_at))


def settle_orphans(db: RunHistory, now_ms: int, host: str | None = None) -> list[RunRecord]:
    """Close the open records of dead processes as `interrupted`; the records closed now."""
    here = host or socket.gethostname()
    orphans = [r for r in db.open_runs() if process_is_gone(r, here)]
    for record in orphans:
        did = "queued" if record.status == "queued" else "ran"
        record.error = ORPHAN_ERROR.format(did=did, pid=record.pid)
        record.status = "interrupted"
        record.ended_at = max(now_ms, record.started_at)
    if orphans:
        db.close_open(orphans)
        log.info("closed %d run record(s) left open by processes that are gone", len(orphans))
    return orphans
