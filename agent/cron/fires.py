"""Pure: what the scheduler hands out (`FiredTask`) and the line of its due-time cache (`DueEntry`).

Separate from the scheduler so that its collaborators (due times, the paced backlog, the delivery path)
and the callers that only name the type do not import the scheduler's shell (threads, watchdog, files).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.cron.task import CronTask

__all__ = ["DueEntry", "FiredTask"]


@dataclass(frozen=True)
class FiredTask:
    """One delivery: the task, where it lives, when it was due, when it fired, whether it was the last."""

    task: CronTask
    durable: bool
    due_ms: int
    fired_ms: int
    owner: bool
    final: bool  # a one-shot, or a recurring task that expired with this fire
    skipped: str | None = None  # not delivered, only recorded `skipped` with this reason (`on_commit`)


@dataclass
class DueEntry:
    """A task the scheduler would fire, from which store, and when it is due (None: never)."""

    task: CronTask
    durable: bool
    due_ms: int | None
