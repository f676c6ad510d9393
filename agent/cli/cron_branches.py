"""`agent cron branches|prune`: the branches that `isolation: "worktree"` runs leave, and their clean-up.

Each isolated run works on a branch `task/<task id>/<UTC stamp>`; the branch outlives the run so its
changes can be reviewed, merged or thrown away. `branches` joins git's list with the run history
(status, run id); `prune --older-than AGE` deletes the run branches started before AGE ago, never one
that is checked out (the user's checkout, or a run still working in its worktree).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sqlite3
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from agent.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError

__all__ = ["BRANCH_COMMANDS", "add_branch_parsers", "parse_age", "run_branch_command"]

BRANCH_COMMANDS = ("branches", "prune")
_UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def add_branch_parsers(sub: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    p_branches = sub.add_parser("branches", help="branches left by runs in their own worktree, with the run's status")
    p_branches.add_argument("id", nargs="?", help="only this task's branches")
    p_branches.add_argument("--json", action="store_true", help="one JSON array of branches")

    p_prune = sub.add_parser("prune", help="delete run branches older than AGE (never a checked-out one)")
    p_prune.add_argument("id", nargs="?", help="only this task's branches")
    p_prune.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 14d, 2w, 12h")
    p_prune.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    return [p_branches, p_prune]


def parse_age(text: str) -> int:
    """`14d` -> milliseconds; UsageError for anything else."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*([mhdw])\s*", text.lower())
    if match is None:
        raise UsageError(f"agent cron prune: --older-than {text!r} is not an age such as 12h, 14d or 2w")
    return int(match[1]) * _UNITS_MS[match[2]]


def run_branch_command(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.worktree import GitError, NotAGitRepository

    try:
        return _cmd_branches(args, project) if args.command == "branches" else _cmd_prune(args, project)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except (GitError, NotAGitRepository) as exc:
        print(f"agent cron {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _records(project: Path, names: list[str]) -> dict:
    """branch -> RunRecord from the run history; {} (with a warning) when there is none or it is unreadable."""
    from agent.cron.history import RunHistory, history_path

    path = history_path(project, os.environ)
    if not names or not path.exists():
        return {}
    try:
        db = RunHistory(path)
        try:
            return db.by_branch(names)
        finally:
            db.close()
    except sqlite3.Error as exc:
        print(f"agent cron: warning: run history unreadable ({exc}); statuses not shown", file=sys.stderr)
        return {}


def _when(stamp: datetime | None) -> str:
    return "-" if stamp is None else stamp.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _cmd_branches(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.worktree import list_run_branches

    branches = list_run_branches(project, (args.id or "").strip().lower() or None)
    records = _records(project, [b.name for b in branches])
    rows = []
    for b in branches:
        record = records.get(b.name)
        rows.append({"branch": b.name, "taskId": b.task_id, "runId": record.run_id if record else None,
                     "status": record.status if record else "no record", "startedAt": _ms(b.stamp),
                     "commit": b.commit, "runCommit": record.commit_id if record else None,
                     "checkedOut": b.checked_out})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("No run branches" + (f" for task {args.id}" if args.id else "") + ". Tasks added with --worktree "
              "leave one per run that changed something.")
        return EXIT_OK
    table = [("BRANCH", "RUN", "STATUS", "STARTED", "COMMIT")]
    for row, b in zip(rows, branches, strict=True):
        status = row["status"] + (" (checked out)" if b.checked_out else "")
        table.append((b.name, row["runId"] or "-", status, _when(b.stamp), b.commit[:12]))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    print("\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table))
    return EXIT_OK


def _ms(stamp: datetime | None) -> int | None:
    return None if stamp is None else int(stamp.timestamp() * 1000)


def _cmd_prune(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.worktree import GitError, delete_branch, git, list_run_branches, repo_root

    cutoff_ms = time.time_ns() // 1_000_000 - parse_age(args.older_than)
    cutoff = datetime.fromtimestamp(cutoff_ms / 1000, tz=timezone.utc)
    repo = repo_root(project)
    git(["worktree", "prune"], repo, check=False)  # forget worktrees whose folders are gone
    _remove_abandoned_worktrees(project, repo, cutoff, dry_run=args.dry_run)
    deleted = kept = 0
    for b in list_run_branches(project, (args.id or "").strip().lower() or None):
        if b.stamp is None or b.stamp >= cutoff:
            continue
        if b.checked_out:
            print(f"Kept {b.name}: it is checked out")
            kept += 1
            continue
        if args.dry_run:
            print(f"Would delete {b.name} ({b.commit[:12]})")
            deleted += 1
            continue
        try:
            delete_branch(repo, b.name)
        except GitError as exc:
            print(f"agent cron prune: {b.name} not deleted: {exc}", file=sys.stderr)
            kept += 1
            continue
        print(f"Deleted {b.name} (was {b.commit[:12]})")
        deleted += 1
    verb = "would be deleted" if args.dry_run else "deleted"
    print(f"{deleted} run branch{'es' if deleted != 1 else ''} older than {args.older_than} {verb}"
          + (f", {kept} kept" if kept else "") + ".")
    return EXIT_OK



def _remove_abandoned_worktrees(project: Path, repo: Path, cutoff: datetime, *, dry_run: bool) -> None:
    """Worktrees of runs killed before they could clean up (started before the cutoff, their process
    gone) keep their branch checked out; remove them so that the branch can be pruned."""
    from agent.cron.worktree import Worktree, branch_stamp, remove_worktree, run_worktrees
    from agent.runs.isolation import WORKTREES
    from agent.settings import project_state_dir

    left = run_worktrees(project, project_state_dir(project, os.environ) / WORKTREES)
    records = _records(project, [branch for _, branch in left])
    for path, branch in left:
        started = branch.rsplit("/", 1)[-1].split("-")[0]  # the UTC stamp: same format, so text order is time order
        if started >= branch_stamp(cutoff) or _still_running(records.get(branch)):
            continue
        print(f"{'Would remove' if dry_run else 'Removed'} the abandoned worktree of {branch} ({path})")
        if not dry_run:
            remove_worktree(Worktree(repo, path, branch, "", path))


def _still_running(record) -> bool:
    """Whether a run's record says it is running in a process that may still be alive."""
    if record is None or record.status != "running":
        return False
    if record.pid is None or record.host != socket.gethostname():
        return True  # cannot tell from here: leave it
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
