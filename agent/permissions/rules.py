"""The permission language as values: Claude Code's rules (`Bash(npm test:*)`, `Edit(src/**)`, `Read`),
the modes, the tool groups a rule covers, and the Decision a check ends in. Pure parsing with no paths
or commands: kept apart from the policy so that the faces and settings can read and validate rules and
modes without loading the matchers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Literal

Behavior = Literal["allow", "deny", "ask"]

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})  # what an `Edit` rule covers
READ_TOOLS = frozenset({"Read", "Glob", "Grep", "LS", "NotebookRead"})  # what a `Read` rule covers
SCHEDULE_TOOLS = frozenset({"CronCreate", "CronDelete"})  # change only the agent's own schedule


class PermissionMode(str, Enum):
    default = "default"
    acceptEdits = "acceptEdits"
    plan = "plan"
    bypassPermissions = "bypassPermissions"


class PermissionConfigError(ValueError):
    """A rule or mode that cannot be understood; the message shows the expected form."""


@dataclass(frozen=True)
class Decision:
    behavior: Behavior
    reason: str  # one sentence for the model and the user
    suggested_rule: str | None = None  # the allow rule that would permit this call, if one could
    rule: str | None = None  # the rule that decided, if one did
    conceal: bool = False  # the file's text must not be shown (a Read deny rule covers it): no diff, no snippet


@dataclass(frozen=True)
class Rule:
    tool: str
    specifier: str | None
    text: str

    def covers(self, tool_name: str) -> bool:
        return (
            self.tool == tool_name
            or (self.tool == "Edit" and tool_name in EDIT_TOOLS)
            or (self.tool == "Read" and tool_name in READ_TOOLS)
            # `mcp__server` covers every tool of that server (`mcp__server__tool`), as in Claude Code
            or (self.tool.startswith("mcp__") and self.tool.count("__") == 1
                and tool_name.startswith(self.tool + "__"))
        )


_RULE_RE = re.compile(r"([A-Za-z0-9_.\-]+)(?:\((.*)\))?", re.DOTALL)


def parse_rule(text: str) -> Rule:
    """`Bash(npm test:*)` -> Rule("Bash", "npm test:*"). `Bash`, `Bash()` and `Bash(*)` cover the tool."""
    match = _RULE_RE.fullmatch(text.strip())
    if not match:
        raise PermissionConfigError(
            f"invalid permission rule {text!r}: expected ToolName or ToolName(specifier), "
            "e.g. Bash(npm test:*), Edit(src/**) or Read"
        )
    spec = match.group(2)
    if match.group(1) == "Bash" and spec and spec.endswith(" *") and spec.strip() != "*":
        spec = spec[:-2].rstrip() + ":*"  # Claude Code's newer `Bash(npm test *)` is `Bash(npm test:*)`
    return Rule(match.group(1), None if spec is None or spec.strip() in ("", "*") else spec, text.strip())


def split_rule_list(text: str) -> list[str]:
    """Rules from a --allowedTools value: separated by commas or spaces outside parentheses."""
    rules, current, depth = [], [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        if depth == 0 and (ch == "," or ch.isspace()):
            rules.append("".join(current))
            current = []
        else:
            current.append(ch)
    return [rule for rule in (*rules, "".join(current)) if rule.strip()]


def parse_rules(values: Iterable[str], *, split: bool = False) -> list[Rule]:
    return [parse_rule(r) for value in values for r in (split_rule_list(value) if split else [value])]


def parse_mode(mode: PermissionMode | str) -> PermissionMode:
    try:
        return PermissionMode(mode)
    except ValueError:
        choices = ", ".join(m.value for m in PermissionMode)
        raise PermissionConfigError(f"unknown permission mode {mode!r}: use one of {choices}") from None


def rule_group(tool_name: str) -> str:
    """The tool a suggested rule names. `Write(...)` for Write: the user approved writing, and the
    question should say so; Claude Code reads such a rule too. Other edit tools share `Edit`."""
    if tool_name == "Write":
        return "Write"
    return "Edit" if tool_name in EDIT_TOOLS else "Read" if tool_name in READ_TOOLS else tool_name
