"""A tool call as the rules see it (Call: its subject, the paths it touches outside the project, the
protected files it writes) and which rule it matches: the deny or ask rule that fires, the allow rule
that permits it, the allow rule to suggest. Bash specifiers are matched on a real parse (bash_policy),
path specifiers through PathRules, any other specifier must equal the subject. Kept apart from the
policy, which only orders these answers into a Decision.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.permissions.git_commands import config_alias_lookup
from agent.permissions.path_rules import PathRules
from agent.permissions.program_files import ProgramFiles
from agent.permissions.protected import is_protected
from agent.permissions.rules import EDIT_TOOLS, READ_TOOLS, Rule, rule_group
from agent.tools.base import Tool, ToolContext, ToolError


def load_bash_policy() -> Any:
    """The Bash rule matcher, loaded with its parser (tree-sitter) on the first Bash call: `agent -p`
    sends its first request before any command needs judging."""
    from agent.permissions import bash_policy

    return bash_policy


@dataclass(frozen=True)
class Call:
    name: str
    subject: str | None
    outside: list[Path]  # touched paths outside the project, resolved
    is_path_tool: bool
    protected: tuple[Path, ...] = ()  # paths it writes that hold settings, commands or git internals
    git_aliases: Any = None  # Bash: reads git aliases from the real configuration, when a rule needs one
    programs: Any = None  # Bash: which file each program name runs, now (copies of a denied program)


def describe_call(
    tool: Tool, args: BaseModel | dict[str, Any], ctx: ToolContext, paths: PathRules,
    additional_dirs: Iterable[Path], user_settings: Path,
) -> Call:
    """The call as the rules see it; input the tool cannot parse leaves only its name to decide on."""
    if isinstance(args, dict):
        try:
            args = tool.parse_input(args)
        except ToolError:  # the tool will report the bad input; decide on the name alone
            return Call(tool.name, None, [], tool.name in EDIT_TOOLS | READ_TOOLS)
    touched = [Path(os.path.realpath(p)) for p in tool.touched_paths(args, ctx)]
    roots = (paths.real_project, *additional_dirs)
    outside = [p for p in touched if not any(p.is_relative_to(root) for root in roots)]
    subject, is_path_tool = tool.permission_subject(args), tool.name in EDIT_TOOLS | READ_TOOLS
    protected: tuple[Path, ...] = ()
    if not tool.read_only and tool.name != "Bash":  # Bash writes are judged by its command rules
        as_written = [Path(os.path.normpath(ctx.resolve(subject)))] if subject and is_path_tool else []
        protected = tuple(p for p in [*touched, *as_written] if is_protected(p, user_settings))
    if tool.name == "Bash" and subject:  # a command that may write the tasks file, settings, .git ...
        from agent.permissions.bash_writes import protected_writes

        protected = tuple(paths.project / name for name in protected_writes(subject))
    aliases = config_alias_lookup(paths.project) if tool.name == "Bash" else None
    programs = ProgramFiles() if tool.name == "Bash" else None
    return Call(tool.name, subject, outside, is_path_tool, protected, aliases, programs)


def first_match(rules: Iterable[Rule], call: Call, paths: PathRules, maybe: bool = False) -> Rule | None:
    """The first deny/ask rule that matches (or, with `maybe`, may match a Bash command it runs)."""
    for rule in rules:
        if not rule.covers(call.name):
            continue
        if rule.specifier is None:
            return rule
        if call.subject is None:
            continue
        if call.name == "Bash":
            answers = ("yes", "maybe") if maybe else ("yes",)
            hit = load_bash_policy().rule_match(rule.specifier, call.subject, call.git_aliases,
                                                call.programs) in answers
        elif call.is_path_tool:
            hit = paths.matches(rule.specifier, call.subject, resolved_only=False)
        else:
            hit = call.subject == rule.specifier
        if hit:
            return rule
    return None


def allowed_by(allow: Iterable[Rule], call: Call, paths: PathRules, named_only: bool = False) -> Rule | None:
    """The allow rule that permits the call (with `named_only`, only one with a specifier)."""
    rules = [r for r in allow if r.covers(call.name) and (r.specifier or not named_only)]
    if call.name == "Bash":
        return bash_allowed_by(rules, call.subject) if call.subject is not None else None
    for rule in rules:
        if rule.specifier is None:
            if not (call.is_path_tool and call.outside):  # a bare `Edit` means inside the project
                return rule
        elif call.subject is not None and (
            paths.matches(rule.specifier, call.subject, resolved_only=True)
            if call.is_path_tool else call.subject == rule.specifier
        ):
            return rule
    return None


def bash_allowed_by(rules: Sequence[Rule], command: str) -> Rule | None:
    """The allow rule that permits the command, if every part of it is permitted by some rule."""
    if bare := next((r for r in rules if r.specifier is None), None):
        return bare
    spec = load_bash_policy().covering_spec([r.specifier for r in rules if r.specifier], command)
    return next((r for r in rules if r.specifier == spec), None) if spec else None


def suggest_rule(call: Call, project_dir: Path) -> str | None:
    """The allow rule to offer as "don't ask again" for this call, if one is narrow enough."""
    if call.name == "Bash":
        return load_bash_policy().suggest_bash_rule(call.subject) if call.subject else None
    if call.name == "WebFetch" and call.subject:  # one domain, never every site
        return f"WebFetch({call.subject})"
    group = rule_group(call.name)
    if call.outside and call.subject is not None:
        path = Path(os.path.realpath(project_dir / Path(call.subject).expanduser()))
        return f"{group}(/{path.as_posix()})"  # `//abs` is an absolute path in a rule
    return group
