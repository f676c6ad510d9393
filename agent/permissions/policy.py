"""Whether a tool call may run: allow, deny, or ask the user. Pure: no I/O beyond resolving paths.

Rules use Claude Code's format (`Bash(npm test:*)`, `Edit(src/**)`, `Read(//etc/**)`, `WebFetch`).
Deny beats ask beats allow. Bash commands are judged on a real parse (bash_policy): a compound command
is allowed only when every simple command in it is plain and permitted; a deny or ask rule fires when
anything the command would run matches, and a deny rule that cannot be ruled out makes it ask.
This module is the decision assembly: the order in which rules, modes, protected files and the sandbox
are consulted. The rule language is in `rules`, a call's matching in `matching`, paths in `path_rules`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agent.permissions.hard_links import LinkCheck
from agent.permissions.matching import (
    Call,
    allowed_by,
    describe_call,
    first_match,
    load_bash_policy,
    suggest_rule,
)
from agent.permissions.path_rules import PathRules, below
from agent.permissions.read_denied import read_denied, read_denied_decision, read_deny_targets
from agent.permissions.rules import (
    EDIT_TOOLS,
    READ_TOOLS,
    SCHEDULE_TOOLS,
    Behavior,
    Decision,
    PermissionConfigError,
    PermissionMode,
    Rule,
    parse_mode,
    parse_rule,
    parse_rules,
    split_rule_list,
)
from agent.settings import user_settings_path
from agent.tools.base import Tool, ToolContext
from agent.tools.listing import RealPaths

if TYPE_CHECKING:
    from agent.settings import Settings

# The rule language lives in `rules`; these names stay importable from here, where callers met them first.
__all__ = [
    "Decision",
    "PermissionConfigError",
    "PermissionMode",
    "PermissionPolicy",
    "Rule",
    "parse_rule",
    "parse_rules",
    "split_rule_list",
]


class PermissionPolicy:
    """Decides tool calls for one session. `allow_for_session` adds rules the user granted."""

    def __init__(
        self,
        project_dir: Path,
        mode: PermissionMode | str = PermissionMode.default,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        ask: Iterable[str] = (),
        *,
        home: Path | None = None,
    ) -> None:
        self.paths = PathRules.at(project_dir, home or Path.home())
        self.mode = parse_mode(mode)
        self.allow, self.deny, self.ask = parse_rules(allow), parse_rules(deny), parse_rules(ask)
        self.session_allow: list[Rule] = []
        self._user_settings = Path(os.path.realpath(user_settings_path()))
        self.additional_dirs: tuple[Path, ...] = ()  # --add-dir: folders treated like the project

    @property
    def project_dir(self) -> Path:
        """The project folder, absolute as given (not resolved)."""
        return self.paths.project

    @property
    def additional_dirs(self) -> tuple[Path, ...]:
        return self._additional_dirs

    @additional_dirs.setter
    def additional_dirs(self, folders: Iterable[Path]) -> None:
        self._additional_dirs = tuple(Path(os.path.realpath(f)) for f in folders)

    @classmethod
    def from_settings(
        cls,
        project_dir: Path,
        settings: Settings,
        mode: PermissionMode | str | None = None,
        extra_allow: Iterable[str] = (),
        extra_deny: Iterable[str] = (),
    ) -> PermissionPolicy:
        """Rules from settings plus --allowedTools/--disallowedTools values (lists of rules each)."""
        allow = [*settings.allow, *(r.text for r in parse_rules(extra_allow, split=True))]
        deny = [*settings.deny, *(r.text for r in parse_rules(extra_deny, split=True))]
        chosen = mode or settings.default_mode or PermissionMode.default
        return cls(project_dir, chosen, allow, deny, settings.ask)

    def rebased(self, project_dir: Path) -> PermissionPolicy:
        """The same rules and mode with `project_dir` as the project folder (an isolated run's worktree).
        Session grants are shared, so a rule allowed meanwhile applies to both."""
        moved = copy.copy(self)
        moved.paths = self.paths.moved_to(project_dir)
        return moved

    def allow_for_session(self, rule: str) -> None:
        self.session_allow.append(parse_rule(rule))

    def check(self, tool: Tool, args: BaseModel | dict[str, Any], ctx: ToolContext | None = None) -> Decision:
        ctx = ctx or ToolContext(project_dir=self.project_dir)
        call = describe_call(tool, args, ctx, self.paths, self._additional_dirs, self._user_settings)
        name = tool.name
        if rule := first_match(self.deny, call, self.paths):
            reason = f"Permission to use {name} was denied by the rule `{rule.text}`."
            return Decision("deny", reason, rule=rule.text)
        if self.mode is PermissionMode.plan and not tool.read_only:
            return Decision(
                "deny", f"{name} is not available in plan mode: plan mode is read-only, so only tools that "
                "read may run. Present your plan instead.",
            )
        if (hidden := self._read_denied_call(call)) is not None:
            return hidden
        chosen = self._code_chosen(call)
        if call.name == "Bash" and not chosen and (rule := first_match(self.deny, call, self.paths, maybe=True)):
            reason = (f"Bash needs confirmation: the command cannot be fully analysed "
                      f"({load_bash_policy().why_unclear(call.subject or '')}), so the rule `{rule.text}` may apply.")
            return Decision("ask", reason, rule=rule.text)
        if rule := first_match(self.ask, call, self.paths, maybe=not chosen):
            reason = f"The rule `{rule.text}` asks for confirmation before {name} runs."
            return Decision("ask", reason, rule=rule.text)
        if name == "Bash" and call.subject is not None and (decided := _sandbox_decision(args, ctx, call.subject)):
            return decided
        if call.protected:
            if name != "Bash" and (rule := self.paths.names_exactly(self._granted(), name, call.protected)):
                return Decision("allow", f"Allowed by the rule `{rule.text}`, which names this file.", rule=rule.text)
            what = "would change" if name != "Bash" else "may change"
            return Decision(
                "ask", f"{name} {what} {call.protected[0]}, which holds the agent's settings, commands or "
                "scheduled tasks or git's internals: such writes are always confirmed, whatever the rules or mode say.",
                self.paths.exact_rule(name, call.protected[0]) if name != "Bash" else None,
            )
        if self.mode is PermissionMode.bypassPermissions:
            return Decision("allow", "All tools are allowed in bypassPermissions mode.")
        if rule := self._allowed_by(call):
            return Decision("allow", f"Allowed by the rule `{rule.text}`.", rule=rule.text)
        if name == "Bash" and call.subject and (read_only := self._read_only_bash(call)):
            return read_only
        suggestion = suggest_rule(call, self.project_dir)
        if call.outside:
            return Decision(
                "ask", f"{name} touches {call.outside[0]}, which is outside the project folder.", suggestion
            )
        if name in SCHEDULE_TOOLS:
            return Decision("allow", f"{name} changes only the agent's own schedule.")
        if tool.read_only:
            return Decision("allow", f"{name} only reads inside the project.")
        if self.mode is PermissionMode.acceptEdits and name in EDIT_TOOLS:
            return Decision("allow", "File edits inside the project are allowed in acceptEdits mode.")
        note = load_bash_policy().not_plain_note(call.subject) if name == "Bash" and call.subject else ""
        return Decision("ask", f"{name} needs your permission to run.{note}", suggestion)

    # --- files a Read deny rule covers: by path, or as a hard link to one (see read_denied.py) ---

    def read_denied(self, path: Path | str) -> bool:
        """Whether a Read deny rule covers this file, by its path or as a hard link to a covered file.
        Edit and Write use it to hide the file's text."""
        return read_denied(self, path)

    def _read_denied_call(self, call: Call) -> Decision | None:
        verdict = read_denied_decision(self, call)
        return None if verdict is None else Decision(verdict[0], verdict[1], conceal=verdict[0] == "ask")

    # --- helpers ---

    def _code_chosen(self, call: Call) -> bool:
        """A Bash command whose only doubt is the code it runs (`make`, `python3 -c`), allowed by a rule
        that names the program: the user chose what it runs, so a deny rule's "maybe" does not ask."""
        if call.name != "Bash" or call.subject is None or self._allowed_by(call, named_only=True) is None:
            return False
        return bool(load_bash_policy().only_code_doubt(call.subject, call.git_aliases))

    def _read_only_bash(self, call: Call) -> Decision | None:
        """`ls`, `cat`, `git log` ... run without a rule, each file they name judged as a Read (readonly)."""
        from agent.permissions import readonly

        found = readonly.judge(call.subject or "", home=self.paths.home, project=self.project_dir,
                               read_verdict=self._read_verdict,
                               read_rules_exist=readonly.read_rules_exist(self.deny, self.ask))
        if found is None:
            return None
        return Decision(found[0], found[1], suggest_rule(call, self.project_dir) if found[0] == "ask" else None)

    def _read_verdict(self, path: str) -> tuple[Behavior, str]:
        """What a Read of `path` (relative to the project) would get, and why, in a few words."""
        real = Path(os.path.realpath(self.project_dir / Path(path)))
        read = Call("Read", path, [] if real.is_relative_to(self.paths.real_project) else [real], True)
        if rule := first_match(self.deny, read, self.paths):
            return "deny", f"reading it is denied by the rule `{rule.text}`."
        if rule := first_match(self.ask, read, self.paths, maybe=True):
            return "ask", f"the rule `{rule.text}` asks before reading it."
        if read.outside and not self._allowed_by(read):
            return "ask", f"{real} is outside the project folder."
        return "allow", ""

    def _granted(self) -> tuple[Rule, ...]:
        """The allow rules: from the settings and flags, then those granted in this session."""
        return (*self.allow, *self.session_allow)

    def _allowed_by(self, call: Call, named_only: bool = False) -> Rule | None:
        return allowed_by(self._granted(), call, self.paths, named_only)

    def search_filter(self, tool: str, root: Path) -> Callable[[Path], Behavior]:
        """The verdict on each file Grep or Glob (`tool`) lists or opens under `root`, whose own check
        has passed: rules that matched the root itself were decided there (asked or allowed)."""
        real_root, project = os.path.realpath(root), str(self.paths.real_project)

        def specific(rules: Iterable[Rule]) -> list[Callable[[str, str], bool]]:
            return [self.paths.rule(r.specifier, resolved_only=False) for r in rules if r.specifier
                    and r.covers(tool) and not self.paths.matches(r.specifier, str(root), resolved_only=False)]
        deny, ask = specific(self.deny), specific(self.ask)
        has_read_deny = tool in READ_TOOLS and any(r.covers(tool) and r.specifier for r in self.deny)
        links = LinkCheck(lambda: read_deny_targets(self)) if has_read_deny else None
        allow = [self.paths.rule(r.specifier, resolved_only=True)
                 for r in self._granted() if r.specifier and r.covers(tool)]

        resolve = RealPaths()

        def verdict(path: Path) -> Behavior:
            written, real = os.path.normpath(path), resolve(path)
            if any(rule(real, written) for rule in deny) or (links is not None and links(real)):
                return "deny"
            if any(rule(real, written) for rule in ask):
                return "ask"
            if below(real, project) is not None or below(real, real_root) is not None:
                return "allow"
            if self.mode is PermissionMode.bypassPermissions or any(rule(real, real) for rule in allow):
                return "allow"
            return "ask"
        return verdict


def _sandbox_decision(args: BaseModel | dict[str, Any], ctx: ToolContext, command: str) -> Decision | None:
    """What the OS sandbox decides for a Bash command that no deny or ask rule stopped: a sandboxed one is
    allowed (autoAllowBashIfSandboxed), one that asks to leave the sandbox always asks; None: the rules."""
    if ctx.sandbox is None:
        return None
    unsandboxed = bool(args.get("dangerouslyDisableSandbox") if isinstance(args, dict)
                       else getattr(args, "dangerouslyDisableSandbox", False))
    verdict = ctx.sandbox.verdict(command, scheduled=ctx.run.scheduled, unsandboxed=unsandboxed)
    if verdict == "refused":
        return Decision("deny", "the sandbox is required (sandbox.failIfUnavailable) and no sandbox works here")
    if verdict == "unsandboxed" and ctx.headless:  # no allow rule can stand in for the person: say so
        return Decision("deny", "the command asks to run outside the sandbox (dangerouslyDisableSandbox), which "
                        "only a person at the terminal can approve; run it inside the sandbox, or have the user "
                        "add it to sandbox.excludedCommands")
    if verdict == "unsandboxed":
        return Decision("ask", "Bash asks to run this command outside the sandbox (dangerouslyDisableSandbox), "
                        "with full access to your files and network: this is always confirmed.")
    if verdict == "sandboxed" and ctx.sandbox.auto_allow:
        return Decision("allow", "Runs inside the sandbox (sandbox.autoAllowBashIfSandboxed).")
    return None
