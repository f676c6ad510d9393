"""The composition root: one place that wires settings, stores, tools, permissions and the model.

The REPL, `agent -p` and `agent daemon` differ only in how they drive a session (who answers permission
questions, where events go, whether the scheduler runs); building the parts is the same for all three.
The model SDK is imported only in `new_conversation()`, so a session can be set up (and the REPL can show
its prompt) while the SDK still loads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cron.jitter import JitterConfig, load_jitter_config
from agent.cron.service import CronService
from agent.cron.store import FileTaskStore, SessionTaskStore
from agent.engine.memory import MemoryFile, MemoryLoader, SubfolderMemory, read_memory_file
from agent.hooks import HookRunner, parse_hooks
from agent.mcp import McpManager, open_mcp
from agent.permissions.network.gate import NetworkGate
from agent.permissions.policy import PermissionPolicy
from agent.permissions.sandbox.runner import SandboxRunner
from agent.settings import Settings, SettingsError, load_settings
from agent.settings.gate import effective_env
from agent.tools.background import BackgroundShells
from agent.tools.base import ToolContext, ToolRegistry
from agent.tools.cron_tools import CronCreate, CronDelete, CronList, max_durable_per_run
from agent.tools.registry import default_tools
from agent.tools.subagents import TaskTool, load_agent_types
from agent.tools.todos import TodoBoard

if TYPE_CHECKING:
    from agent.engine.conversation import Asker, Conversation, Emit
    from agent.engine.llm import LLM


@dataclass
class SessionOptions:
    """What the command line can set. Everything else comes from settings files and the environment."""

    model: str | None = None
    permission_mode: str | None = None
    allowed_tools: list[str] = field(default_factory=list)
    disallowed_tools: list[str] = field(default_factory=list)
    append_system_prompt: str | None = None
    system_prompt: str | None = None  # --system-prompt: replaces the built-in instructions
    max_turns: int | None = None
    headless: bool = False  # nobody to ask: `-p` and the daemon
    add_dirs: list[Path] = field(default_factory=list)  # --add-dir: inside the permission boundary too
    settings_override: dict[str, Any] | None = None  # --settings: merged over the settings files
    tools: list[str] | None = None  # --tools: the only built-in tools (None: all)
    max_budget_usd: float | None = None
    fallback_model: str | None = None
    persist: bool = True  # --no-session-persistence: False
    kept_open: bool = False  # headless but long-lived (stream-json input): session tasks fire in it
    mcp_config: list[str] = field(default_factory=list)  # --mcp-config FILE_OR_JSON (repeatable)
    strict_mcp_config: bool = False  # --strict-mcp-config: only the servers of --mcp-config

    @classmethod
    def from_args(cls, args: Any, *, headless: bool) -> SessionOptions:
        options = cls(
            model=getattr(args, "model", None),
            permission_mode=getattr(args, "permission_mode", None),
            allowed_tools=list(getattr(args, "allowed_tools", None) or []),
            disallowed_tools=list(getattr(args, "disallowed_tools", None) or []),
            append_system_prompt=getattr(args, "append_system_prompt", None),
            system_prompt=getattr(args, "system_prompt", None),
            max_turns=getattr(args, "max_turns", None),
            headless=headless,
            add_dirs=list(getattr(args, "add_dirs", None) or []),
            settings_override=getattr(args, "settings_override", None),
            tools=getattr(args, "tools_list", None),
            max_budget_usd=getattr(args, "max_budget_usd", None),
            fallback_model=getattr(args, "fallback_model", None),
            persist=not getattr(args, "no_session_persistence", False),
            mcp_config=list(getattr(args, "mcp_config", None) or []),
            strict_mcp_config=bool(getattr(args, "strict_mcp_config", False)),
        )
        if getattr(args, "dangerously_skip_permissions", False):
            options.permission_mode = "bypassPermissions"
        return options


def chosen_tools(tools: list[Any], names: list[str] | None) -> list[Any]:
    """The tools `--tools` keeps (all for None). An unknown name is a mistake worth stopping for."""
    if names is None:
        return tools
    known = {tool.name for tool in tools}
    if unknown := [n for n in names if n not in known]:
        raise SettingsError(f"--tools: no tool named {', '.join(unknown)}; the tools are {', '.join(sorted(known))}")
    return [tool for tool in tools if tool.name in names]


def _to_stderr(text: str) -> None:
    import sys

    print(f"agent: {text}", file=sys.stderr, flush=True)


class AgentSession:
    """Settings, task stores, cron service, tools, permission policy; conversations on demand."""

    def __init__(self, project_dir: Path, options: SessionOptions, *, settings: Settings | None = None,
                 jitter: Callable[[], JitterConfig] | None = None) -> None:
        self.project_dir = project_dir
        self.options = options
        self.settings = settings if settings is not None else load_settings(project_dir,
                                                                            extra=options.settings_override)
        # Settings `env` reaches the process (model client, state folders) only through the trust gate.
        self.env: dict[str, str] = effective_env(self.settings.env, os.environ)
        self.file_store = FileTaskStore(project_dir)
        self.session_store = SessionTaskStore()
        self.cron = CronService(self.file_store, self.session_store, jitter=jitter or self._settings_jitter)
        self.policy = PermissionPolicy.from_settings(
            project_dir, self.settings, options.permission_mode,
            extra_allow=options.allowed_tools, extra_deny=options.disallowed_tools,
        )
        self.policy.additional_dirs = tuple(options.add_dirs)
        self.agent_types = load_agent_types(project_dir, Path(self.env.get("HOME") or Path.home()))
        self.tools = ToolRegistry(chosen_tools([TaskTool(self.agent_types), *default_tools(), CronCreate(),
                                                CronDelete(), CronList()], options.tools))
        # MCP servers (gated by trust and approval) connect in the background; their tools join as they do.
        self.mcp: McpManager = open_mcp(project_dir, self.settings, self.env, extra=options.mcp_config,
                                        strict=options.strict_mcp_config)
        self.tools.add_provider(self.mcp.tools)
        self.mcp.start()
        # The OS sandbox for Bash: on when settings say so, and for scheduled runs unless they say not.
        self.sandbox = SandboxRunner.from_settings(project_dir, self.settings, deny_rules=self.policy.deny)
        self.sandbox.extra_writable = tuple(options.add_dirs)
        # Its network: none, or allowed domains through the agent's proxy (started when a command needs it).
        self.network = NetworkGate(self.sandbox.settings.allowed_domains, project_dir,
                                   socket_path=lambda: self.sandbox.private_path("proxy.sock"))
        self.sandbox.network = self.network
        self.ctx = ToolContext(
            project_dir=project_dir, cron=self.cron, headless=options.headless,
            search_filter=self.policy.search_filter, read_denied=self.policy.read_denied,
            sandbox=self.sandbox, shells=BackgroundShells(), todos=TodoBoard(),
            max_durable_per_run=max_durable_per_run(self.settings.get("cron")),
            allow_rule_tools=frozenset(rule.tool for rule in self.policy.allow),
            allow_rule_names=self._allow_rule_names,
            ask_small_model=self._small_model_asker(),
            run_subagent=self._run_subagent, web_search=self._web_search,
            extra={"session_tasks_fire": True} if options.kept_open else {},
        )
        self.hook_config = parse_hooks(self.settings.get("hooks"))
        # Where hook errors and messages for the user go; a face replaces it (the chat's renderer).
        self.hook_notify: Callable[[str], None] = _to_stderr
        self._llm: LLM | None = None
        self._cache_ttl: tuple[tuple, str | None] | None = None  # (what it was judged on, the TTL)

    def prompt_cache_ttl(self, *, durable: bool = False) -> str | None:
        """"1h" while this session has a recurring task that fires every 5 to 60 minutes (session tasks,
        and with `durable` the tasks file's too: a face that fires them); None for the default 5 minutes.
        Judged again only when the tasks change."""
        from agent.cron.gaps import shortest_interval_ms
        from agent.cron.policy import prompt_cache_ttl
        from agent.cron.store import TaskFileError
        from agent.cron.zone import local_zone

        try:
            stat = self.file_store.path.stat() if durable else None
        except OSError:
            stat = None
        key = (self.session_store.revision, durable, stat and (stat.st_mtime_ns, stat.st_size, stat.st_ino))
        if self._cache_ttl is None or self._cache_ttl[0] != key:
            tasks = list(self.session_store.load().tasks)
            if stat is not None:
                with contextlib.suppress(TaskFileError):  # an unreadable file fires nothing
                    tasks += self.file_store.load().tasks
            now, tz = int(datetime.now().timestamp() * 1000), local_zone()
            ttl = prompt_cache_ttl(shortest_interval_ms(t.cron, now, tz) for t in tasks if t.recurring)
            self._cache_ttl = (key, ttl)
        return self._cache_ttl[1]

    def _small_model_asker(self) -> Callable[[str, ToolContext], Awaitable[str]] | None:
        """One-shot requests to the small fast model (Claude Code's ANTHROPIC_DEFAULT_HAIKU_MODEL, or the older
        ANTHROPIC_SMALL_FAST_MODEL): WebFetch answers its prompt with it. None when neither is set."""
        env = self.env
        model = (env.get("ANTHROPIC_DEFAULT_HAIKU_MODEL") or env.get("ANTHROPIC_SMALL_FAST_MODEL") or "").strip()
        if not model:
            return None

        async def ask(text: str, ctx: ToolContext) -> str:
            llm = self.llm_for(model)
            try:
                response = await llm.stream_message(system=None, messages=[{"role": "user", "content": text}],
                                                    max_tokens=4096)
            finally:
                await llm.aclose()
            if ctx.parent is not None:  # its tokens and cost count in the turn that asked
                ctx.parent.account_subagent(response.usage, llm.cost_usd(response.usage))
            return response.text
        return ask

    def _allow_rule_names(self, tool: str, specifier: str) -> bool:
        return any(rule.tool == tool and rule.specifier == specifier
                   for rule in (*self.policy.allow, *self.policy.session_allow))

    async def _run_subagent(self, kind: Any, prompt: str, ctx: ToolContext) -> str:
        from agent.engine.subagents import run_subagent

        return await run_subagent(self, kind, prompt, ctx)

    async def _web_search(self, query: str, allowed: list[str] | None, blocked: list[str] | None,
                          ctx: ToolContext) -> tuple[str, int]:
        from agent.engine.web_search import run_web_search

        return await run_web_search(self, query, allowed, blocked, ctx)

    def hooks(self) -> HookRunner:
        """A HookRunner for one conversation (hooks get os.environ plus settings env, never the API key)."""
        return HookRunner(self.hook_config, self.project_dir, self.env, notify=lambda text: self.hook_notify(text),
                          permission_mode=lambda: self.policy.mode.value)

    def warnings(self, *, untrusted_keys: bool = True) -> list[str]:
        """What every face says once at start-up: project settings the trust gate dropped (the untrusted
        ones only with `untrusted_keys`: the chat asks about those instead) and memory files not read."""
        from agent.engine.prompts import instruction_files_outside
        from agent.settings.gate import ignored_warning, outside_warning, refused_warning

        lines = []
        if untrusted_keys and self.settings.ignored and not self.settings.trusted:
            lines.append(ignored_warning(self.project_dir, self.settings.ignored))
        if self.settings.refused:
            lines.append(refused_warning(self.settings.refused))
        lines += [f"settings: {problem}" for problem in self.hook_config.problems]
        if outside := instruction_files_outside(self.project_dir):
            lines.append(outside_warning("Memory files", outside, self.project_dir))
        return lines

    def _settings_jitter(self) -> JitterConfig:
        return load_jitter_config(self.settings.get("cronJitter"))[0]

    @property
    def model(self) -> str:
        from agent.engine.llm import resolve_model

        return resolve_model(self.options.model, self.env, self.settings.model)

    def llm(self) -> LLM:
        """The model client, made on first use. Raises LLMError (e.g. no API key) with a clear message."""
        if self._llm is None:
            self._llm = self.llm_for(self.model)
        return self._llm

    def llm_for(self, model: str) -> LLM:
        """A new model client for `model` (a custom command's `model:`), configured like the session's."""
        from agent.engine.llm import LLM, resolve_model

        window = self.settings.get("contextWindow")
        options: dict[str, Any] = {"context_window": window if isinstance(window, int) else None}
        retries = self.env.get("AGENT_MAX_RETRIES", "").strip()
        if retries.isdigit():
            options["max_retries"] = int(retries)
        return LLM.from_env(self.env, model=resolve_model(model, {}, None), **options)

    async def aclose(self) -> None:
        if self.ctx.shells is not None:  # background commands end with the session
            await self.ctx.shells.close()
        self.sandbox.close()
        self.network.close()
        if self.mcp.states:
            import asyncio

            await asyncio.to_thread(self.mcp.close)
        if self._llm is not None:
            await self._llm.aclose()

    def set_model(self, model: str) -> None:
        self.options.model = model
        self._llm = None

    def memory_loader(self) -> MemoryLoader:
        """Reads the memory files (CLAUDE.md and the rest) of this project and the user."""
        from agent.settings import user_settings_path

        return MemoryLoader(self.project_dir, Path.home(), read_memory_file, user_dir=user_settings_path().parent)

    def system_prompt(self, memory: list[MemoryFile] | None = None) -> str:
        from agent.engine.prompts import build_system_prompt

        return build_system_prompt(self.project_dir, self.tools.names(), now=datetime.now().astimezone(),
                                   append=self.options.append_system_prompt, headless=self.options.headless,
                                   kept_open=self.options.kept_open,
                                   memory=memory if memory is not None else self.memory_loader().load(),
                                   system=self.options.system_prompt)

    def new_conversation(self, *, emit: Emit | None = None, asker: Asker | None = None,
                         session_id: str | None = None, record: bool = True) -> Conversation:
        """A conversation; with `record`, saved as it goes to the transcript of `session_id` (a new id when
        None). `agent.engine.transcript.transcript_path_of(conversation)` says where."""
        from agent.engine.conversation import Conversation
        from agent.engine.transcript import TranscriptWriter, new_session_id, transcript_path

        loader = self.memory_loader()
        conversation = Conversation(self.llm(), self.tools, self.ctx, self.policy,
                                    system_prompt=self.system_prompt(loader.load()),
                                    asker=None if self.options.headless else asker,
                                    max_turns=self.options.max_turns, emit=emit)
        conversation.max_budget_usd = self.options.max_budget_usd
        if self.options.fallback_model:
            conversation.fallback = lambda: self.llm_for(self.options.fallback_model or "")
        conversation.hooks = self.hooks()
        conversation.memory = SubfolderMemory(loader)  # subfolders' CLAUDE.md, when a tool first goes there
        if record and self.options.persist:
            sid = session_id or new_session_id()
            conversation.transcript = TranscriptWriter(transcript_path(self.project_dir, self.env, sid), sid,
                                                       cwd=self.project_dir, session_store=self.session_store,
                                                       kind="print" if self.options.headless else "chat")
        return conversation
