"""Unattended runs: a scheduled fire as a bounded, recorded run. `recorder` (RunRecorder) gates each run
(paused, breaker, budgets) and writes its record in the history; `scheduled` (ScheduledRunner) runs a
fire on its own conversation with retries and limits, as the daemon does; `live_fires` (LiveFireRuns)
runs a fire as a turn of a live conversation (the chat, stream-json) under the same policy; `isolation`
puts a run in its own git worktree; `notify` sends the operator's alerts. It sits above the engine (it
drives conversations) and below the faces (which wire it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import lazy_exports

_EXPORTS = {
    "RunRecorder": "recorder",
    "RunTracker": "recorder",
    "ScheduledRunner": "scheduled",
    "LiveFireRuns": "live_fires",
    "IsolatedRun": "isolation",
    "IsolationError": "isolation",
    "Notifier": "notify",
}

__all__ = [
    "IsolatedRun",
    "IsolationError",
    "LiveFireRuns",
    "Notifier",
    "RunRecorder",
    "RunTracker",
    "ScheduledRunner",
]

if TYPE_CHECKING:
    from agent.runs.isolation import IsolatedRun, IsolationError
    from agent.runs.live_fires import LiveFireRuns
    from agent.runs.notify import Notifier
    from agent.runs.recorder import RunRecorder, RunTracker
    from agent.runs.scheduled import ScheduledRunner

__getattr__ = lazy_exports(__name__, _EXPORTS)
