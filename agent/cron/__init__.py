"""The cron core (pure: expressions, jitter, missed tasks, /loop parsing) and its runtime shell.

The pure core is importable without side effects and is re-exported here. The runtime shell
(`CronScheduler`, `SchedulerLock`, `TaskFileWatcher`) lives in its own modules so that importing the core
does not start threads or pull in watchdog: `from agent.cron.scheduler import CronScheduler`.
"""

from agent.cron.expr import (
    CronError,
    CronExpr,
    describe_cron,
    next_fire,
    next_fires,
    parse_cron,
    validate_cron,
)
from agent.cron.jitter import (
    JitterConfig,
    is_aged,
    jitter_frac,
    jittered_next_fire,
    load_jitter_config,
    one_shot_fire,
)
from agent.cron.loop_spec import LoopError, LoopSpec, parse_loop
from agent.cron.missed import find_missed, missed_notification
from agent.cron.service import CronService, ScheduledTask
from agent.cron.store import (
    MAX_TASKS,
    FileTaskStore,
    LoadedTasks,
    SessionTaskStore,
    TaskFileError,
    TaskLimitError,
)
from agent.cron.task import CronTask, new_task_id

__all__ = [
    "MAX_TASKS",
    "CronError",
    "CronExpr",
    "CronService",
    "CronTask",
    "FileTaskStore",
    "JitterConfig",
    "LoadedTasks",
    "LoopError",
    "LoopSpec",
    "ScheduledTask",
    "SessionTaskStore",
    "TaskFileError",
    "TaskLimitError",
    "describe_cron",
    "find_missed",
    "is_aged",
    "jitter_frac",
    "jittered_next_fire",
    "load_jitter_config",
    "missed_notification",
    "new_task_id",
    "next_fire",
    "next_fires",
    "one_shot_fire",
    "parse_cron",
    "parse_loop",
    "validate_cron",
]
