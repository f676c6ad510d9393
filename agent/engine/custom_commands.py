"""Custom slash commands in Claude Code's format: Markdown files in `.claude/commands/` (the project's)
and `~/.claude/commands/` (the user's).

`frontend/test.md` is `/frontend:test`. The file's text is the prompt; `$ARGUMENTS` becomes everything
after the name and `$1`, `$2`, ... the single words (quotes group words). Optional front matter:
`description` (shown in /help and completion), `argument-hint`, `allowed-tools` (permission rules added
for that one turn), `model` (used for that one turn).

A prompt that starts with `/name` is expanded the same way wherever it enters (typed in the chat, given
to `-p`, fired by the scheduler): all faces call `run_prompt()`. A `/name` with no such file raises
`CommandNotFound`, so a scheduled `/check-tests` whose file was deleted fails that run instead of sending
the text "/check-tests" to the model. Parsing and expansion are pure; only `load_commands` reads files.
File contents are data: a command can add permission rules only for its own turn, and only rules that
parse.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.mcp.prompts import PromptNotFound, expand_prompt, is_mcp_prompt_line
from agent.settings.gate import outside_warning, resolves_inside

if TYPE_CHECKING:
    from agent.engine.conversation import Conversation
    from agent.engine.session import AgentSession
    from agent.engine.turn_result import TurnResult

log = logging.getLogger(__name__)

COMMAND_LINE = re.compile(r"/([A-Za-z][\w:-]*)(?:\s+(.*))?", re.S)
POSITIONAL = re.compile(r"\$([1-9])")
MAX_FILE_BYTES = 256 * 1024


class CommandNotFound(LookupError):
    """A prompt names a custom command that does not exist; the message says where it was looked for."""


@dataclass(frozen=True)
class CustomCommand:
    name: str  # without the slash: "check-tests", "frontend:test"
    body: str
    path: Path
    scope: str = "project"  # or "user"
    description: str = ""
    argument_hint: str = ""
    allowed_tools: tuple[str, ...] = ()
    model: str | None = None

    @property
    def summary(self) -> str:
        first = next((line.strip() for line in self.body.splitlines() if line.strip()), "")
        return self.description or first[:60] or f"({self.scope} command)"


@dataclass(frozen=True)
class Expansion:
    """A `/name args` prompt, expanded: the text the model gets and what the turn may use."""

    command: CustomCommand
    prompt: str

    @property
    def allowed_tools(self) -> tuple[str, ...]:
        return self.command.allowed_tools

    @property
    def model(self) -> str | None:
        return self.command.model


# ------------------------------------------------------------------------------------ pure part


def parse_command_line(text: str) -> tuple[str, str] | None:
    """`/frontend:test a b` -> ("frontend:test", "a b"); None when the text is not a command line."""
    match = COMMAND_LINE.fullmatch(text.strip())
    return (match.group(1), (match.group(2) or "").strip()) if match else None


def command_name(relative: Path) -> str:
    """`frontend/test.md` -> `frontend:test` (subfolders are namespaces, as in Claude Code)."""
    return ":".join([*relative.parent.parts, relative.stem])


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The `---` front matter (a small YAML subset: `key: value`, `[a, b]` and `- item` lists) and the
    body. Text without front matter is all body."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
    if end is None:
        return {}, text
    meta: dict[str, Any] = {}
    key = None
    for line in lines[1:end]:
        item = re.match(r"\s*-\s+(.*)", line)
        if item and key is not None:
            current = meta.get(key)
            meta[key] = [*(current if isinstance(current, list) else []), _unquote(item.group(1))]
            continue
        pair = re.match(r"([\w-]+)\s*:\s*(.*)", line)
        if pair:
            key, value = pair.group(1).lower(), pair.group(2).strip()
            meta[key] = _list_value(value) if value.startswith("[") else _unquote(value)
    return meta, "\n".join(lines[end + 1:]).lstrip("\n")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _list_value(value: str) -> list[str]:
    return [_unquote(v) for v in split_rules(value.strip()[1:-1] if value.endswith("]") else value[1:])]


def split_rules(text: str) -> list[str]:
    """`Bash(git add:*), Read` -> the rules; commas inside parentheses do not split."""
    rules, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            rules.append(current.strip())
            current = ""
        else:
            current += char
    rules.append(current.strip())
    return [rule for rule in rules if rule]


def parse_command_file(name: str, text: str, path: Path, scope: str = "project") -> CustomCommand:
    meta, body = split_front_matter(text)
    tools = meta.get("allowed-tools", [])
    tools = split_rules(tools) if isinstance(tools, str) else [str(t) for t in tools]
    model = meta.get("model")
    return CustomCommand(name, body, path, scope, str(meta.get("description", "") or ""),
                         str(meta.get("argument-hint", "") or ""), tuple(tools),
                         model if isinstance(model, str) and model.strip() else None)


def expand_body(body: str, arguments: str) -> str:
    """Substitute `$ARGUMENTS` and `$1`..`$9`; with neither in the body, arguments are appended."""
    try:
        words = shlex.split(arguments)
    except ValueError:  # an unbalanced quote: plain words rather than a failure
        words = arguments.split()
    if "$ARGUMENTS" not in body and not POSITIONAL.search(body):
        return f"{body.rstrip()}\n\nARGUMENTS: {arguments}" if arguments else body
    text = body.replace("$ARGUMENTS", arguments)
    return POSITIONAL.sub(lambda m: words[int(m.group(1)) - 1] if int(m.group(1)) <= len(words) else "", text)


@dataclass
class CommandSet:
    """The custom commands found, by name, and the warnings made while loading them."""

    commands: dict[str, CustomCommand] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    shadowed: dict[str, CustomCommand] = field(default_factory=dict)  # lost to a built-in
    folders: tuple[Path, ...] = ()
    reserved: frozenset[str] = frozenset()  # the built-in names
    outside: str | None = None  # the warning about project files that resolve outside it (also in warnings)

    def get(self, name: str) -> CustomCommand | None:
        return self.commands.get(name)

    def names(self) -> list[str]:
        return sorted(self.commands)

    def __iter__(self) -> Iterator[CustomCommand]:
        return iter(sorted(self.commands.values(), key=lambda c: c.name))

    def expand(self, text: str) -> Expansion | None:
        """The expansion of a `/name args` prompt; None for any other prompt. Raises CommandNotFound."""
        parsed = parse_command_line(text)
        if parsed is None:
            return None
        name, arguments = parsed
        command = self.commands.get(name)
        if command is None and name in self.reserved:
            raise CommandNotFound(f"/{name} is a built-in chat command: it runs only when typed in the chat, "
                                  "not from -p or a schedule")
        if command is None:
            where = " or ".join(str(f) for f in self.folders) or ".claude/commands"
            raise CommandNotFound(f"/{name} is not a custom command (no {name.replace(':', '/')}.md in "
                                  f"{where})")
        return Expansion(command, expand_body(command.body, arguments))


# ----------------------------------------------------------------------------------- the files


def user_commands_dir(env: Mapping[str, str]) -> Path:
    base = env.get("CLAUDE_CONFIG_DIR")
    home = Path(env.get("HOME") or Path.home())
    return Path(base) / "commands" if base else home / ".claude" / "commands"


def load_commands(project_dir: Path, env: Mapping[str, str] | None = None,
                  reserved: Iterable[str] = ()) -> CommandSet:
    """The user's commands, then the project's (which win over a user file of the same name).
    A name in `reserved` (a built-in) is left out with a warning."""
    reserved = list(reserved)
    env = os.environ if env is None else env
    folders = (project_dir / ".claude" / "commands", user_commands_dir(env))
    found = CommandSet(folders=folders, reserved=frozenset(reserved))
    outside: list[Path] = []
    for folder, scope in ((folders[1], "user"), (folders[0], "project")):
        for path in sorted(folder.rglob("*.md")) if folder.is_dir() else []:
            if scope == "project" and not resolves_inside(path, project_dir):
                outside.append(path)  # a committed link to a file elsewhere: its text is not ours to send
                continue
            command = _read(folder, path, scope, found.warnings)
            if command is not None:
                found.commands[command.name] = command
    if outside:
        found.outside = outside_warning("Command files in .claude/commands", outside, project_dir)
        found.warnings.append(found.outside)
    for name in set(reserved) & set(found.commands):
        found.shadowed[name] = found.commands.pop(name)
        found.warnings.append(f"/{name} is a built-in command, so {found.shadowed[name].path} is ignored; "
                              "rename the file to use it")
    return found


def _read(folder: Path, path: Path, scope: str, warnings: list[str]) -> CustomCommand | None:
    name = command_name(path.relative_to(folder))
    if not COMMAND_LINE.fullmatch("/" + name):
        warnings.append(f"{path}: /{name} is not a usable command name (letters, digits, - and _); skipped")
        return None
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            warnings.append(f"{path}: not a regular file under {MAX_FILE_BYTES // 1024} KB; skipped")
            return None
        text = path.read_bytes().decode("utf-8", "replace")  # a stray Latin-1 byte: U+FFFD, not a lost command
        return parse_command_file(name, text, path, scope)
    except (OSError, UnicodeDecodeError) as exc:
        warnings.append(f"{path}: cannot be read ({exc}); skipped")
        return None


# ------------------------------------------------------------------------------ running a prompt


@contextmanager
def allowed_for_turn(policy: Any, rules: Iterable[str]) -> Iterator[list[str]]:
    """Add a command's `allowed-tools` rules to the session rules for one turn. Rules that do not parse
    are left out (fail closed) and returned, for the caller to report."""
    from agent.permissions.rules import PermissionConfigError, parse_rule

    added, bad = [], []
    for rule in rules:
        try:
            added.append(parse_rule(rule))
        except PermissionConfigError:
            bad.append(rule)
    policy.session_allow.extend(added)
    try:
        yield bad
    finally:
        policy.session_allow[:] = [r for r in policy.session_allow if all(r is not a for a in added)]


@asynccontextmanager
async def model_for_turn(conversation: Conversation, session: AgentSession, model: str | None):
    """Use `model` for the requests of one turn, then go back to the conversation's own."""
    if not model:
        yield
        return
    own = conversation.llm
    conversation.llm = session.llm_for(model)
    conversation.llm.raw_events = own.raw_events
    try:
        yield
    finally:
        turn_llm, conversation.llm = conversation.llm, own
        await turn_llm.aclose()


async def run_prompt(conversation: Conversation, session: AgentSession, text: str, *,
                     commands: CommandSet | None = None, scheduled_task: Any = None,
                     source: str | None = None, run_id: str | None = None) -> TurnResult:
    """Run one prompt as a turn, expanding a `/name` custom command first (CommandNotFound if missing)."""
    if is_mcp_prompt_line(text):  # `/mcp__server__prompt args`: the server's prompt is the turn's prompt
        try:
            text = await expand_prompt(session.mcp, text)
        except PromptNotFound as exc:
            raise CommandNotFound(str(exc)) from None
    commands = commands if commands is not None else load_commands(session.project_dir, session.env)
    expansion = commands.expand(text)
    if expansion is None:
        return await conversation.run_turn(text, scheduled_task=scheduled_task, source=source, run_id=run_id)
    with allowed_for_turn(session.policy, expansion.allowed_tools) as bad:
        for rule in bad:
            log.warning("/%s: allowed-tools rule %r does not parse; not added", expansion.command.name, rule)
        async with model_for_turn(conversation, session, expansion.model):
            return await conversation.run_turn(expansion.prompt, scheduled_task=scheduled_task, source=source,
                                               run_id=run_id)


__all__ = [
    "CommandNotFound",
    "CommandSet",
    "CustomCommand",
    "Expansion",
    "allowed_for_turn",
    "command_name",
    "expand_body",
    "load_commands",
    "parse_command_file",
    "parse_command_line",
    "run_prompt",
    "split_front_matter",
    "user_commands_dir",
]
