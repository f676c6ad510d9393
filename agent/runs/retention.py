"""Retention of the run history: `cron.history.keepDays` (default 30) and `keepRunsPerTask` (1000).

Closed runs older than keepDays, or beyond the newest keepRunsPerTask of their task, are deleted with
their transcript files (only files in the project's own transcripts folder: a chat run's transcript
is the user's saved session and stays). Open runs (`queued`, `running`) are never pruned. The daemon
prunes at start-up and daily; `agent cron history --prune [--dry-run]` does it now.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.settings import project_state_dir

__all__ = ["DEFAULT_KEEP_DAYS", "DEFAULT_KEEP_RUNS", "Pruned", "prune", "prune_history", "retention_of"]

log = logging.getLogger(__name__)

DEFAULT_KEEP_DAYS = 30
DEFAULT_KEEP_RUNS = 1000
TRANSCRIPTS = "transcripts"
DAY_MS = 86_400_000
VACUUM_AT = 5000  # runs pruned at once after which the database file is compacted


@dataclass
class Pruned:
    keep_days: int
    keep_runs: int
    runs: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"retention (keepDays {self.keep_days}, keepRunsPerTask {self.keep_runs}): {verb} "
                f"{len(self.runs)} run record(s) and {len(self.files)} transcript file(s), "
                f"{self.bytes_freed / 1e6:.1f} MB")


def _whole(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1 else default


def retention_of(cron_settings: Any) -> tuple[int, int]:
    """(keepDays, keepRunsPerTask) from `cron.history`; bad values fall back to the defaults."""
    section = cron_settings.get("history") if isinstance(cron_settings, Mapping) else None
    section = section if isinstance(section, Mapping) else {}
    return (_whole(section.get("keepDays"), DEFAULT_KEEP_DAYS),
            _whole(section.get("keepRunsPerTask"), DEFAULT_KEEP_RUNS))


def prune(db: Any, transcripts: Path, now_ms: int, keep_days: int, keep_runs: int, *,
          dry_run: bool = False) -> Pruned:
    pruned = Pruned(keep_days, keep_runs, dry_run=dry_run)
    before = now_ms - keep_days * DAY_MS
    candidates = db.retention_candidates(before, keep_runs)
    folder = os.path.realpath(transcripts)
    for run_id, transcript in candidates:
        pruned.runs.append(run_id)
        if not transcript or not os.path.realpath(transcript).startswith(folder + os.sep):
            continue
        try:
            size = os.lstat(transcript).st_size
            if not dry_run:
                os.unlink(transcript)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("transcript %s not removed: %s", transcript, exc)
            continue
        pruned.files.append(transcript)
        pruned.bytes_freed += size
    if not dry_run and candidates:
        db.delete_runs(pruned.runs, gaps_before_ms=before)
        if len(pruned.runs) >= VACUUM_AT:
            db.vacuum()
    return pruned


def prune_history(recorder: Any, *, dry_run: bool = False) -> Pruned | None:
    """Prune the recorder's project history by its settings (in a worker thread); None without one."""
    db = recorder.history()
    if db is None:
        return None
    keep_days, keep_runs = retention_of(recorder.cron_settings())
    transcripts = project_state_dir(recorder.project_dir, recorder.env) / TRANSCRIPTS
    try:
        return prune(db, transcripts, recorder.now_ms(), keep_days, keep_runs, dry_run=dry_run)
    except Exception as exc:  # housekeeping must never stop the service
        log.warning("pruning the run history failed: %s", exc)
        return None
