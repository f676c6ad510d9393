"""Files a Read deny rule covers, whatever the tool or the name used for them.

Read deny rules are about a file's contents, so they hold for every way to see them: Read, Grep and
Glob skip the file and any hard link to it (same device and inode, see `hard_links`); Edit and Write
of it ask (denied headless) and return none of its text (the tools check `ToolContext.read_denied`,
and the question shows no diff). Functions of the policy, kept apart so that policy.py stays one
screenful per idea; paths are matched through the policy's PathRules (`policy.paths`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.permissions.hard_links import LinkCheck, literal_start
from agent.permissions.rules import EDIT_TOOLS, READ_TOOLS

if TYPE_CHECKING:
    from agent.permissions.matching import Call

PermissionPolicy = Any  # agent.permissions.policy.PermissionPolicy (which imports this module)


def read_denied(policy: PermissionPolicy, path: Path | str) -> bool:
    """Whether a Read deny rule covers this file: by its path (as written or resolved), or as a hard
    link to a covered file."""
    rules = [r for r in policy.deny if r.covers("Read")]
    if not rules:
        return False
    if any(r.specifier is None for r in rules):
        return True
    text = str(path)
    if any(policy.paths.matches(r.specifier, text, resolved_only=False) for r in rules if r.specifier):
        return True
    return denied_link(policy, text)


def denied_link(policy: PermissionPolicy, subject: str) -> bool:
    path = Path(subject).expanduser()
    absolute = path if path.is_absolute() else policy.project_dir / path
    return LinkCheck(lambda: read_deny_targets(policy))(os.path.realpath(absolute))


def read_deny_targets(policy: PermissionPolicy) -> list[tuple[Path, Callable[[str], bool]]]:
    """Where each Read deny rule's files are (its literal folder) and the test of a resolved path."""
    targets = []
    for rule in policy.deny:
        if rule.covers("Read") and rule.specifier:
            root, pattern = policy.paths.root(rule.specifier, real=True)
            test = policy.paths.rule(rule.specifier, resolved_only=True)
            targets.append((literal_start(root, pattern), lambda p, test=test: test(p, p)))
    return targets


def read_denied_decision(policy: PermissionPolicy, call: Call) -> tuple[str, str] | None:
    """(behavior, reason): a hard link to a Read-denied file is denied to Read like the file; an Edit or
    Write of a Read-denied file is asked (denied headless) with its text concealed."""
    if not call.is_path_tool or call.subject is None or not any(r.covers("Read") for r in policy.deny):
        return None
    if call.name in READ_TOOLS and denied_link(policy, call.subject):
        return "deny", (f"{call.name} was denied: {call.subject} is another name (a hard link) for a file a "
                         "Read deny rule covers, or cannot be told apart from one.")
    if call.name in EDIT_TOOLS and read_denied(policy, call.subject):
        return "ask", (f"{call.name} would change {call.subject}, which a Read deny rule covers: its contents "
                       "stay hidden (no diff, no snippet), and the change needs your yes.")
    return None
