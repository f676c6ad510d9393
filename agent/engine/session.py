"""The composition root: one place that wires settings, stores, tools, permissions and the model.

The REPL, `agent -p` and `agent daemon` differ only in how they drive a session (who answers permission
questions, where events go, whether the scheduler runs); building the parts is the same for all three.
The model SDK is imported only in `new_conversation()`, so a session can be set up (and the REPL can show
its prompt) while the SDK still loads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.cron.jitter import JitterConfig, load_jitter_config
from agent.cron.service import CronService
from agent.cron.store import FileTaskStore, SessionTaskStore
from agent.permissions.policy import PermissionPolicy
from agent.settings import Settings, load_settings
from agent.tools.base import ToolContext, ToolRegistry
from agent.tools.cron_tools import CronCreate, CronDelete, CronList, max_durable_per_run
from agent.tools.registry import default_tools

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
    max_turns: int | None = None
    headless: bool = False  # nobody to ask: `-p` and the daemon

    @classmethod
    def from_args(cls, args: Any, *, headless: bool) -> SessionOptions:
        return cls(
            model=getattr(args, "model", None),
            permission_mode=getattr(args, "permission_mode", None),
            allowed_tools=list(getattr(args, "allowed_tools", None) or []),
            disallowed_tools=list(getattr(args, "disallowed_tools", None) or []),
            append_system_prompt=getattr(args, "append_system_prompt", None),
            max_turns=getattr(args, "max_turns", None),
            headless=headless,
        )


class AgentSession:
    """Settings, task stores, cron service, tools, permission policy; conversations on demand."""

    def __init__(self, project_dir: Path, options: SessionOptions, *, settings: Settings | None = None,
                 jitter: Callable[[], JitterConfig] | None = None) -> None:
        self.project_dir = project_dir
        self.options = options
        self.settings = settings if settings is not None else load_settings(project_dir)
        self.env: dict[str, str] = {**self.settings.env, **os.environ}
        self.file_store = FileTaskStore(project_dir)
        self.session_store = SessionTaskStore()
        self.cron = CronService(self.file_store, self.session_store, jitter=jitter or self._settings_jitter)
        self.policy = PermissionPolicy.from_settings(
            project_dir, self.settings, options.permission_mode,
            extra_allow=options.allowed_tools, extra_deny=options.disallowed_tools,
        )
        self.tools = ToolRegistry([*default_tools(), CronCreate(), CronDelete(), CronList()])
        self.ctx = ToolContext(
            project_dir=project_dir, cron=self.cron, headless=options.headless,
            search_filter=self.policy.search_filter,
            max_durable_per_run=max_durable_per_run(self.settings.get("cron")),
            allow_rule_tools=frozenset(rule.tool for rule in self.policy.allow),
        )
        self._llm: LLM | None = None

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
        if self._llm is not None:
            await self._llm.aclose()

    def set_model(self, model: str) -> None:
        self.options.model = model
        self._llm = None

    def system_prompt(self) -> str:
        from agent.engine.prompts import build_system_prompt

        return build_system_prompt(self.project_dir, self.tools.names(), now=datetime.now().astimezone(),
                                   append=self.options.append_system_prompt, headless=self.options.headless)

    def new_conversation(self, *, emit: Emit | None = None, asker: Asker | None = None,
                         session_id: str | None = None, record: bool = True) -> Conversation:
        """A conversation; with `record`, saved as it goes to the transcript of `session_id` (a new id when
        None). `agent.engine.transcript.transcript_path_of(conversation)` says where."""
        from agent.engine.conversation import Conversation
        from agent.engine.transcript import TranscriptWriter, new_session_id, transcript_path

        conversation = Conversation(self.llm(), self.tools, self.ctx, self.policy,
                                    system_prompt=self.system_prompt(),
                                    asker=None if self.options.headless else asker,
                                    max_turns=self.options.max_turns, emit=emit)
        if record:
            sid = session_id or new_session_id()
            conversation.transcript = TranscriptWriter(transcript_path(self.project_dir, self.env, sid), sid,
                                                       cwd=self.project_dir, session_store=self.session_store,
                                                       kind="print" if self.options.headless else "chat")
        return conversation
