"""Whether a tool call may run: allow, deny, or ask the user. Pure: no I/O beyond resolving paths.

Rules use Claude Code's format (`Bash(npm test:*)`, `Edit(src/**)`, `Read(//etc/**)`, `WebFetch`).
Deny beats ask beats allow. Bash commands are judged on a real parse (bash_policy): a compound command
is allowed only when every simple command in it is plain and permitted; a deny or ask rule fires when
anything the command would run matches, and a deny rule that cannot be ruled out makes it ask.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from agent.permissions.git_commands import config_alias_lookup
from agent.permissions.hard_links import LinkCheck
from agent.permissions.program_files import ProgramFiles
from agent.permissions.protected import is_protected
from agent.permissions.read_denied import read_denied, read_denied_decision, read_deny_targets
from agent.settings import user_settings_path
from agent.tools.base import Tool, ToolContext, ToolError
from agent.tools.listing import RealPaths, glob_or_parent_regex

if TYPE_CHECKING:
    from agent.settings import Settings

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


# --- shell commands: judged on a real parse, see bash_policy ------------------------------------


def _bash_policy() -> Any:
    """The Bash rule matcher, loaded with its parser (tree-sitter) on the first Bash call: `agent -p`
    sends its first request before any command needs judging."""
    from agent.permissions import bash_policy

    return bash_policy


def bash_allowed_by(rules: Sequence[Rule], command: str) -> Rule | None:
    """The allow rule that permits the command, if every part of it is permitted by some rule."""
    if bare := next((r for r in rules if r.specifier is None), None):
        return bare
    spec = _bash_policy().covering_spec([r.specifier for r in rules if r.specifier], command)
    return next((r for r in rules if r.specifier == spec), None) if spec else None


# --- the policy ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Call:
    name: str
    subject: str | None
    outside: list[Path]  # touched paths outside the project, resolved
    is_path_tool: bool
    protected: tuple[Path, ...] = ()  # paths it writes that hold settings, commands or git internals
    git_aliases: Any = None  # Bash: reads git aliases from the real configuration, when a rule needs one
    programs: Any = None  # Bash: which file each program name runs, now (copies of a denied program)


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
        self.project_dir = Path(os.path.abspath(project_dir))
        self.mode = _parse_mode(mode)
        self.allow, self.deny, self.ask = parse_rules(allow), parse_rules(deny), parse_rules(ask)
        self.session_allow: list[Rule] = []
        self._home = Path(os.path.abspath(home or Path.home()))
        self._real_project = Path(os.path.realpath(self.project_dir))
        self._real_home = Path(os.path.realpath(self._home))
        self._user_settings = Path(os.path.realpath(user_settings_path()))
        self.additional_dirs: tuple[Path, ...] = ()  # --add-dir: folders treated like the project

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
        moved.project_dir = Path(os.path.abspath(project_dir))
        moved._real_project = Path(os.path.realpath(moved.project_dir))
        return moved

    def allow_for_session(self, rule: str) -> None:
        self.session_allow.append(parse_rule(rule))

    def check(self, tool: Tool, args: BaseModel | dict[str, Any], ctx: ToolContext | None = None) -> Decision:
        ctx = ctx or ToolContext(project_dir=self.project_dir)
        call = self._describe(tool, args, ctx)
        name = tool.name
        if rule := self._first_match(self.deny, call):
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
        if call.name == "Bash" and not chosen and (rule := self._first_match(self.deny, call, maybe=True)):
            reason = (f"Bash needs confirmation: the command cannot be fully analysed "
                      f"({_bash_policy().why_unclear(call.subject or '')}), so the rule `{rule.text}` may apply.")
            return Decision("ask", reason, rule=rule.text)
        if rule := self._first_match(self.ask, call, maybe=not chosen):
            reason = f"The rule `{rule.text}` asks for confirmation before {name} runs."
            return Decision("ask", reason, rule=rule.text)
        if name == "Bash" and call.subject is not None and (decided := _sandbox_decision(args, ctx, call.subject)):
            return decided
        if call.protected:
            if name != "Bash" and (rule := self._names_exactly(call)):
                return Decision("allow", f"Allowed by the rule `{rule.text}`, which names this file.", rule=rule.text)
            what = "would change" if name != "Bash" else "may change"
            return Decision(
                "ask", f"{name} {what} {call.protected[0]}, which holds the agent's settings, commands or "
                "scheduled tasks or git's internals: such writes are always confirmed, whatever the rules or mode say.",
                self._exact_rule(call) if name != "Bash" else None,
            )
        if self.mode is PermissionMode.bypassPermissions:
            return Decision("allow", "All tools are allowed in bypassPermissions mode.")
        if rule := self._allowed_by(call):
            return Decision("allow", f"Allowed by the rule `{rule.text}`.", rule=rule.text)
        if name == "Bash" and call.subject and (read_only := self._read_only_bash(call)):
            return read_only
        suggestion = self._suggest(call)
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
        note = _bash_policy().not_plain_note(call.subject) if name == "Bash" and call.subject else ""
        return Decision("ask", f"{name} needs your permission to run.{note}", suggestion)

    # --- files a Read deny rule covers: by path, or as a hard link to one (see read_denied.py) ---

    def read_denied(self, path: Path | str) -> bool:
        """Whether a Read deny rule covers this file, by its path or as a hard link to a covered file.
        Edit and Write use it to hide the file's text."""
        return read_denied(self, path)

    def _read_denied_call(self, call: _Call) -> Decision | None:
        verdict = read_denied_decision(self, call)
        return None if verdict is None else Decision(verdict[0], verdict[1], conceal=verdict[0] == "ask")

    # --- helpers ---

    def _describe(self, tool: Tool, args: BaseModel | dict[str, Any], ctx: ToolContext) -> _Call:
        if isinstance(args, dict):
            try:
                args = tool.parse_input(args)
            except ToolError:  # the tool will report the bad input; decide on the name alone
                return _Call(tool.name, None, [], tool.name in EDIT_TOOLS | READ_TOOLS)
        touched = [Path(os.path.realpath(p)) for p in tool.touched_paths(args, ctx)]
        roots = (self._real_project, *self._additional_dirs)
        outside = [p for p in touched if not any(p.is_relative_to(root) for root in roots)]
        subject, is_path_tool = tool.permission_subject(args), tool.name in EDIT_TOOLS | READ_TOOLS
        protected: tuple[Path, ...] = ()
        if not tool.read_only and tool.name != "Bash":  # Bash writes are judged by its command rules
            as_written = [Path(os.path.normpath(ctx.resolve(subject)))] if subject and is_path_tool else []
            protected = tuple(p for p in [*touched, *as_written] if is_protected(p, self._user_settings))
        if tool.name == "Bash" and subject:  # a command that may write the tasks file, settings, .git ...
            from agent.permissions.bash_writes import protected_writes

            protected = tuple(self.project_dir / name for name in protected_writes(subject))
        aliases = config_alias_lookup(self.project_dir) if tool.name == "Bash" else None
        programs = ProgramFiles() if tool.name == "Bash" else None
        return _Call(tool.name, subject, outside, is_path_tool, protected, aliases, programs)

    def _code_chosen(self, call: _Call) -> bool:
        """A Bash command whose only doubt is the code it runs (`make`, `python3 -c`), allowed by a rule
        that names the program: the user chose what it runs, so a deny rule's "maybe" does not ask."""
        if call.name != "Bash" or call.subject is None or self._allowed_by(call, named_only=True) is None:
            return False
        return bool(_bash_policy().only_code_doubt(call.subject, call.git_aliases))

    def _read_only_bash(self, call: _Call) -> Decision | None:
        """`ls`, `cat`, `git log` ... run without a rule, each file they name judged as a Read (readonly)."""
        from agent.permissions import readonly

        found = readonly.judge(call.subject or "", home=self._home, project=self.project_dir,
                               read_verdict=self._read_verdict,
                               read_rules_exist=readonly.read_rules_exist(self.deny, self.ask))
        if found is None:
            return None
        return Decision(found[0], found[1], self._suggest(call) if found[0] == "ask" else None)

    def _read_verdict(self, path: str) -> tuple[Behavior, str]:
        """What a Read of `path` (relative to the project) would get, and why, in a few words."""
        real = Path(os.path.realpath(self.project_dir / Path(path)))
        read = _Call("Read", path, [] if real.is_relative_to(self._real_project) else [real], True)
        if rule := self._first_match(self.deny, read):
            return "deny", f"reading it is denied by the rule `{rule.text}`."
        if rule := self._first_match(self.ask, read, maybe=True):
            return "ask", f"the rule `{rule.text}` asks before reading it."
        if read.outside and not self._allowed_by(read):
            return "ask", f"{real} is outside the project folder."
        return "allow", ""

    def _first_match(self, rules: Iterable[Rule], call: _Call, maybe: bool = False) -> Rule | None:
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
                hit = _bash_policy().rule_match(rule.specifier, call.subject, call.git_aliases,
                                                call.programs) in answers
            elif call.is_path_tool:
                hit = self._path_matches(rule.specifier, call.subject, resolved_only=False)
            else:
                hit = call.subject == rule.specifier
            if hit:
                return rule
        return None

    def _allowed_by(self, call: _Call, named_only: bool = False) -> Rule | None:
        rules = [r for r in (*self.allow, *self.session_allow) if r.covers(call.name)
                 and (r.specifier or not named_only)]
        if call.name == "Bash":
            return bash_allowed_by(rules, call.subject) if call.subject is not None else None
        for rule in rules:
            if rule.specifier is None:
                if not (call.is_path_tool and call.outside):  # a bare `Edit` means inside the project
                    return rule
            elif call.subject is not None and (
                self._path_matches(rule.specifier, call.subject, resolved_only=True)
                if call.is_path_tool else call.subject == rule.specifier
            ):
                return rule
        return None

    def _path_matches(self, spec: str, subject: str, *, resolved_only: bool) -> bool:
        """gitignore-style: the pattern matches the path or one of its folders below the rule's root."""
        path = Path(subject).expanduser()
        path = path if path.is_absolute() else self.project_dir / path
        return self._path_rule(spec, resolved_only=resolved_only)(os.path.realpath(path), os.path.normpath(path))

    def _path_rule(self, spec: str, *, resolved_only: bool) -> Callable[[str, str], bool]:
        """The rule as a test of (resolved path, path as written), both absolute strings; the second is
        ignored when resolved_only. Built once per search so that each file costs no Path objects."""
        forms = []
        for real in (True,) if resolved_only else (True, False):
            root, pattern = self._rule_root(spec, real)
            patterns = [pattern]
            if not resolved_only and pattern.endswith("/**"):  # deny `dir/**` also denies searching dir
                patterns.append(pattern[:-3])
            forms.append((str(root), glob_or_parent_regex(*patterns)))

        def matches(real_path: str, written: str) -> bool:
            for (root, regex), candidate in zip(forms, (real_path, written), strict=False):
                rel = _below(candidate, root)
                if rel is not None and regex.fullmatch(rel):
                    return True
            return False
        return matches

    def _rule_root(self, spec: str, real: bool) -> tuple[Path, str]:
        project = self._real_project if real else self.project_dir
        home = self._real_home if real else self._home
        if spec.startswith("//"):
            return Path("/"), spec[2:].rstrip("/")
        if spec.startswith("~/"):
            return home, spec[2:].rstrip("/")
        if spec.startswith(("/", "./")):
            return project, spec.split("/", 1)[1].rstrip("/")
        pattern = spec.rstrip("/")
        return project, pattern if "/" in pattern else f"**/{pattern}"  # gitignore: any depth

    def _names_exactly(self, call: _Call) -> Rule | None:
        """An allow rule whose path, without wildcards, is the very file every protected path leads to."""
        targets = {Path(os.path.realpath(p)) for p in call.protected}
        for rule in (*self.allow, *self.session_allow):
            spec = rule.specifier
            if not (rule.covers(call.name) and spec and "/" in spec.rstrip("/")) or any(c in spec for c in "*?[{"):
                continue
            root, pattern = self._rule_root(spec, real=True)
            if targets == {Path(os.path.realpath(root / pattern))}:
                return rule
        return None

    def _exact_rule(self, call: _Call) -> str:
        group = _rule_group(call.name)
        target = Path(os.path.realpath(call.protected[0]))
        if target.is_relative_to(self._real_project):
            return f"{group}(./{target.relative_to(self._real_project).as_posix()})"
        return f"{group}(/{target.as_posix()})"

    def search_filter(self, tool: str, root: Path) -> Callable[[Path], Behavior]:
        """The verdict on each file Grep or Glob (`tool`) lists or opens under `root`, whose own check
        has passed: rules that matched the root itself were decided there (asked or allowed)."""
        real_root, project = os.path.realpath(root), str(self._real_project)

        def specific(rules: Iterable[Rule]) -> list[Callable[[str, str], bool]]:
            return [self._path_rule(r.specifier, resolved_only=False) for r in rules if r.specifier
                    and r.covers(tool) and not self._path_matches(r.specifier, str(root), resolved_only=False)]
        deny, ask = specific(self.deny), specific(self.ask)
        has_read_deny = tool in READ_TOOLS and any(r.covers(tool) and r.specifier for r in self.deny)
        links = LinkCheck(lambda: read_deny_targets(self)) if has_read_deny else None
        allow = [self._path_rule(r.specifier, resolved_only=True)
                 for r in (*self.allow, *self.session_allow) if r.specifier and r.covers(tool)]

        resolve = RealPaths()

        def verdict(path: Path) -> Behavior:
            written, real = os.path.normpath(path), resolve(path)
            if any(rule(real, written) for rule in deny) or (links is not None and links(real)):
                return "deny"
            if any(rule(real, written) for rule in ask):
                return "ask"
            if _below(real, project) is not None or _below(real, real_root) is not None:
                return "allow"
            if self.mode is PermissionMode.bypassPermissions or any(rule(real, real) for rule in allow):
                return "allow"
            return "ask"
        return verdict

    def _suggest(self, call: _Call) -> str | None:
        if call.name == "Bash":
            return _bash_policy().suggest_bash_rule(call.subject) if call.subject else None
        if call.name == "WebFetch" and call.subject:  # one domain, never every site
            return f"WebFetch({call.subject})"
        group = _rule_group(call.name)
        if call.outside and call.subject is not None:
            path = Path(os.path.realpath(self.project_dir / Path(call.subject).expanduser()))
            return f"{group}(/{path.as_posix()})"  # `//abs` is an absolute path in a rule
        return group


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


def _rule_group(tool_name: str) -> str:
    """The tool a suggested rule names. `Write(...)` for Write: the user approved writing, and the
    question should say so; Claude Code reads such a rule too. Other edit tools share `Edit`."""
    if tool_name == "Write":
        return "Write"
    return "Edit" if tool_name in EDIT_TOOLS else "Read" if tool_name in READ_TOOLS else tool_name


def _below(path: str, root: str) -> str | None:
    """path relative to root with `/` separators ("" for root itself), or None when not below it."""
    if path == root:
        return ""
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path[len(prefix):].replace(os.sep, "/") if path.startswith(prefix) else None


def _parse_mode(mode: PermissionMode | str) -> PermissionMode:
    try:
        return PermissionMode(mode)
    except ValueError:
        choices = ", ".join(m.value for m in PermissionMode)
        raise PermissionConfigError(f"unknown permission mode {mode!r}: use one of {choices}") from None
