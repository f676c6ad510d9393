"""The Tool base class and the registry the conversation loop uses."""

from __future__ import annotations

import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ValidationError

from agent.jsonfile import replace_lone_surrogates
from agent.tools.listing import RealPaths

if TYPE_CHECKING:
    from agent.cron.service import CronService
    from agent.tools.file_change import FileChange


Verdict = Literal["allow", "deny", "ask"]
FileVerdict = Callable[[Path], Verdict]


class ToolError(Exception):
    """A failure the model should see as an `is_error` tool result; the message says what to do."""


@dataclass(frozen=True)
class ToolDenial:
    """Something refused while a tool call ran (a sandboxed command's connection to a host not allowed):
    the conversation reports each as a PermissionDenied event, so runs record it and `-p` lists it."""

    reason: str
    rule: str | None = None  # what would allow it
    domain: str | None = None  # the host a network refusal was for


@dataclass
class ToolResult:
    """What a tool returns: `content` goes to the model, `summary` is the short line a person sees."""

    content: str
    is_error: bool = False
    summary: str = ""
    change: FileChange | None = None  # Edit and Write: what the file changed, for the transcript
    denials: list[ToolDenial] = field(default_factory=list)  # refused while it ran
    blocks: list[dict[str, Any]] | None = None  # more content blocks for the model (an MCP tool's images)

    def __post_init__(self) -> None:
        # A file name that is not UTF-8 reaches Python as lone surrogates, which no screen, transcript
        # or request can encode: each becomes U+FFFD here, once, for every face.
        self.content = replace_lone_surrogates(self.content)
        self.summary = replace_lone_surrogates(self.summary)


def new_run_id() -> str:
    return uuid.uuid4().hex


@dataclass
class RunState:
    """One run: a chat turn, an `agent -p` run or a scheduled fire. Tools learn who started it and count
    what it made. `run_id` is the hook run history uses: CronCreate records it as `createdByRun`."""

    run_id: str = field(default_factory=new_run_id)
    scheduled: bool = False  # started by the scheduler (a fired task), not by a person's prompt
    durable_created: int = 0


DEFAULT_MAX_DURABLE_PER_RUN = 5

# How one Bash command runs: "sandboxed"; "excluded" (sandbox.excludedCommands: outside, under the normal
# rules); "unsandboxed" (dangerouslyDisableSandbox, approved); "off" (no sandbox for this run);
# "unavailable" (wanted, no backend: runs outside after one warning); "refused" (failIfUnavailable).
SandboxVerdict = Literal["sandboxed", "excluded", "unsandboxed", "off", "unavailable", "refused"]


@dataclass
class WrappedCommand:
    """A command made ready to run in the sandbox: spawn `argv` with `env`, letting it inherit `pass_fds`;
    call `close()` once it has started (or failed to); `explain(output)` is a note for the model when the
    output shows the sandbox refusing something."""

    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()
    close: Callable[[], None] = lambda: None
    explain: Callable[[str], str | None] = lambda output: None
    denials: Callable[[], list[ToolDenial]] = lambda: []  # after it ended: what it was refused (the network)


class CommandWrapper(Protocol):
    """The OS sandbox as the Bash tool sees it (agent.permissions.sandbox.SandboxRunner implements it).
    Tools sit below the permissions layer, so they get it through the ToolContext, never by import."""

    @property
    def auto_allow(self) -> bool: ...

    def verdict(self, command: str, *, scheduled: bool, unsandboxed: bool = False) -> SandboxVerdict: ...

    def wrap(self, argv: list[str], env: Mapping[str, str], cwd: Path) -> WrappedCommand: ...

    def rooted(self, project_dir: Path) -> CommandWrapper: ...


@dataclass
class ToolContext:
    """What tools may use. Tools never reach for globals: the project, the cron service, the mode."""

    project_dir: Path
    cron: CronService | None = None
    headless: bool = False  # `agent -p`: the process exits after the turn, so session tasks never fire
    extra: dict[str, Any] = field(default_factory=dict)
    run: RunState = field(default_factory=RunState)
    max_durable_per_run: int = DEFAULT_MAX_DURABLE_PER_RUN  # settings `cron.maxDurablePerRun`
    allow_rule_tools: frozenset[str] = frozenset()  # tools an allow rule names (settings, --allowedTools)

    # Set by the permission policy: (tool name, search root) -> the verdict on each file Grep or Glob
    # would open or list. Without one, only files inside the project or the search root are used.
    search_filter: Callable[[str, Path], FileVerdict] | None = None
    # The OS sandbox Bash commands run in (None: never sandboxed). Rooted with the project folder.
    sandbox: CommandWrapper | None = None
    # Set by the permission policy: whether a Read deny rule covers a file (by path or hard link). Edit
    # and Write then return none of its text: no snippet, no diff.
    read_denied: Callable[[Path], bool] | None = None
    # The session's background shells (Bash run_in_background); None: background commands are refused.
    shells: Any = None  # agent.tools.background.BackgroundShells (not imported: it imports this module)
    # The session's todo list (TodoWrite); the chat draws it, a scheduled run records it.
    todos: Any = None  # agent.tools.todos.TodoBoard
    # (tool, specifier) of every allow rule: a rule naming a host lets WebFetch reach a private address.
    allow_rule_specs: frozenset[tuple[str, str]] = frozenset()
    # The same asked of the live policy (rules allowed during the session count too); set by the session.
    allow_rule_names: Callable[[str, str], bool] | None = None
    # One request to a small fast model (WebFetch answers its prompt with it); None: none is configured.
    ask_small_model: Callable[[str, ToolContext], Awaitable[str]] | None = None

    # Runs a subagent (Task): (agent type, prompt, this context) -> its final answer. Set by the session.
    run_subagent: Callable[[Any, str, ToolContext], Awaitable[str]] | None = None
    # Runs a web search through the API's server tool: (query, allowed, blocked, ctx) -> (text, pages found).
    web_search: Callable[[str, list[str] | None, list[str] | None, ToolContext], Awaitable[tuple[str, int]]] | None \
        = None
    # The conversation running this call (set per turn by the engine): subagents report usage to it.
    parent: Any = None
    # The tool_use id of the call being run (set per call by the engine): a subagent's progress names it.
    tool_use_id: str = ""

    def rule_names(self, tool: str, specifier: str) -> bool:
        """Whether an allow rule names exactly `tool(specifier)`."""
        if self.allow_rule_names is not None:
            return self.allow_rule_names(tool, specifier)
        return (tool, specifier) in self.allow_rule_specs

    def hides(self, path: Path) -> bool:
        return self.read_denied is not None and self.read_denied(path)

    def for_run(self, run: RunState) -> ToolContext:
        """The same context for one new run (the conversation makes one per turn)."""
        return replace(self, run=run)


    def file_verdict(self, tool: str, root: Path) -> FileVerdict:
        """Whether `tool`, searching `root`, may open or list a file: allow, deny (skip silently) or ask
        (skip, and tell the model to Read it to ask). Symlinks are judged by where they lead."""
        if self.search_filter is not None:
            return self.search_filter(tool, root)
        inside = [os.path.realpath(folder) for folder in (self.project_dir, root)]
        prefixes = tuple(folder.rstrip(os.sep) + os.sep for folder in inside)

        resolve = RealPaths()

        def verdict(path: Path) -> Verdict:
            real = resolve(path)
            return "allow" if real in inside or real.startswith(prefixes) else "ask"
        return verdict

    def resolve(self, path: str) -> Path:
        """A tool path argument as an absolute path; relative paths are taken from the project."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.project_dir / candidate


class Tool(ABC):
    """One tool the model can call. `Input` is a pydantic model whose JSON schema is `input_schema`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Input: ClassVar[type[BaseModel]]
    read_only: ClassVar[bool] = False

    @classmethod
    def input_schema(cls) -> dict[str, Any]:
        """The Input model's JSON schema made strict: no unknown fields, optional fields typed plainly."""
        schema = cls.Input.model_json_schema()
        return strict_schema(schema, schema.pop("$defs", {}))

    @classmethod
    def definition(cls) -> dict[str, Any]:
        """The tool as the Messages API wants it in `tools`."""
        return {"name": cls.name, "description": cls.description, "input_schema": cls.input_schema()}

    def parse_input(self, raw: dict[str, Any]) -> BaseModel:
        known = {name for name, info in self.Input.model_fields.items()} | {
            info.alias for info in self.Input.model_fields.values() if info.alias}
        unknown = sorted(set(raw) - known) if isinstance(raw, dict) else []
        if unknown:
            raise ToolError(f"Invalid input for {self.name}: unknown field(s) {', '.join(unknown)}; "
                            f"the fields are {', '.join(sorted(known))}.")
        try:
            return self.Input.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}" for err in exc.errors()
            )
            raise ToolError(f"Invalid input for {self.name}: {problems}") from None

    def key_argument(self, args: BaseModel) -> str:
        """The one argument worth showing on the tool's line in the transcript."""
        return ""

    def permission_subject(self, args: BaseModel) -> str | None:
        """What a rule's parenthesised part matches: a command for Bash, a path for file tools."""
        return None

    def touched_paths(self, args: BaseModel, ctx: ToolContext) -> list[Path]:
        """Absolute paths this call reads or writes, for the outside-the-project check."""
        return []

    @abstractmethod
    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        """Do the work. Raise ToolError for failures the model should read and recover from."""


def strict_schema(node: Any, defs: dict[str, Any]) -> Any:
    """A pydantic schema as a model reads it best: `$ref`s inlined, `X | None` written as X (leaving the
    field out is how a model says "none"), titles dropped, and every object closed to unknown fields."""
    if isinstance(node, list):
        return [strict_schema(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return strict_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    options = node.get("anyOf")
    if options and len(options) == 2 and {"type": "null"} in options:
        rest = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
        return strict_schema({**next(o for o in options if o != {"type": "null"}), **rest}, defs)
    out = {k: strict_schema(v, defs) for k, v in node.items() if k != "title"}
    if "properties" in node:
        out["properties"] = {name: strict_schema(p, defs) for name, p in node["properties"].items()}
    if out.get("type") == "object":
        out["additionalProperties"] = False
    return out


class ToolRegistry:
    """Tools by name, in the order they were registered (the order the model sees them)."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        # Tools that come and go (an MCP server's, once it connects): each call gives a fresh snapshot.
        self._providers: list[Callable[[], list[Tool]]] = []
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        self._tools[tool.name] = tool

    def add_provider(self, provider: Callable[[], list[Tool]]) -> None:
        self._providers.append(provider)

    def _all(self) -> dict[str, Tool]:
        if not self._providers:
            return self._tools
        found = dict(self._tools)
        for provider in self._providers:
            for tool in provider():
                found.setdefault(tool.name, tool)
        return found

    def get(self, name: str) -> Tool | None:
        return self._all().get(name)

    def names(self) -> list[str]:
        return list(self._all())

    def __iter__(self):
        return iter(list(self._all().values()))

    def __len__(self) -> int:
        return len(self._all())

    def definitions(self) -> list[dict[str, Any]]:
        return [tool.definition() for tool in self._all().values()]

    def restricted(self, keep: Iterable[str]) -> ToolRegistry:
        wanted = set(keep)
        return ToolRegistry(t for t in self._tools.values() if t.name in wanted)
