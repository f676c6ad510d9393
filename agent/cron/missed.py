"""One-shot tasks whose time passed while no session ran (pure: the time is an argument).

They are not run blindly at start-up: "deploy at 14:30" run at 09:00 the next day may do harm. The
caller removes them from the file and shows the model `missed_notification(...)`, which asks it to
check with the user first. Overdue recurring tasks are not "missed": they simply fire on the next tick.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import tzinfo

from agent.cron.expr import describe_cron
from agent.cron.jitter import JitterConfig, ms_to_datetime, one_shot_fire
from agent.cron.task import CronTask

__all__ = ["code_fence", "find_missed", "missed_notification"]

_BACKTICK_RUN = re.compile(r"`+")


def find_missed(
    tasks: Iterable[CronTask], now_ms: int, cfg: JitterConfig | None = None, *, tz: tzinfo
) -> list[CronTask]:
    """The one-shot tasks whose (jittered) fire time is at or before `now_ms`, in input order."""
    cfg = cfg or JitterConfig()
    missed = []
    for task in tasks:
        if task.recurring:
            continue
        fire = one_shot_fire(task.cron, task.createdAt, task.id, cfg, tz)
        if fire is not None and fire <= now_ms:
            missed.append(task)
    return missed


def code_fence(text: str) -> str:
    """A backtick fence one longer than the longest backtick run in `text` (at least 3), so the
    text cannot close it early."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def missed_notification(tasks: Iterable[CronTask], tz: tzinfo) -> str:
    """The message for the model about missed one-shot tasks; "" when there are none."""
    tasks = list(tasks)
    if not tasks:
        return ""
    one = len(tasks) == 1
    subject = "One scheduled one-shot task" if one else f"{len(tasks)} scheduled one-shot tasks"
    them = "it" if one else "them"
    lines = [
        f"{subject} did not run because no session was open when {them} {'was' if one else 'were'} due."
        f" {'It has' if one else 'They have'} been removed from the schedule.",
        f"Do not act on {them} yet. Tell the user and ask whether to run {them} now.",
    ]
    for task in tasks:
        fence = code_fence(task.prompt)
        lines += [
            "",
            f"Task {task.id}, schedule: {_schedule(task.cron)}, created {_local_time(task.createdAt, tz)}",
            "Prompt:",
            fence,
            task.prompt.rstrip("\n"),
            fence,
        ]
    return "\n".join(lines)


def _schedule(cron: str) -> str:
    human = describe_cron(cron)
    return human if human == cron else f"{human} ({cron})"


def _local_time(ms: int, tz: tzinfo) -> str:
    when = ms_to_datetime(ms, tz)
    return f"{when.strftime('%a %Y-%m-%d %H:%M')} {when.tzname() or ''}".rstrip()
