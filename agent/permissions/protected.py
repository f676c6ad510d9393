"""Paths whose change would let the model escalate: the agent's settings, commands and scheduled tasks, git's
internals.

Writes to them always ask (denied headless), whatever the mode or the allow rules say, unless an allow
rule names the exact file. Matched at any depth and case-insensitively (a case-insensitive file system
opens `.GIT/config` as `.git/config`); the policy checks both the path as written and the path after
resolving symlinks and `..`.
"""

from __future__ import annotations

from pathlib import Path

# Files in a .claude folder. The tasks file too: a run that writes tasks into it would side-step
# cron.maxDurablePerRun and the CronCreate rule for scheduled runs (the scheduler's own writes do not
# go through the tools).
PROTECTED_NAMES = ("settings.json", "settings.local.json", "scheduled_tasks.json", "scheduled_tasks.lock",
                   "scheduled_tasks.json.lock")
PROTECTED_FOLDERS = ("commands",)  # folders in a .claude folder: anything below them
PROTECTED_ANYWHERE = (".git",)  # folders at any depth: hooks, config and everything else below


def is_protected(path: Path, user_settings: Path | None = None) -> bool:
    """Whether writing `path` (absolute) could change permissions, commands or git's behaviour."""
    parts = [part.casefold() for part in path.parts]
    if any(name in parts for name in PROTECTED_ANYWHERE) or path == user_settings:
        return True
    return any(
        part == ".claude" and (rest := parts[i + 1 :]) and (
            (len(rest) == 1 and rest[0] in PROTECTED_NAMES) or rest[0] in PROTECTED_FOLDERS)
        for i, part in enumerate(parts)
    )
