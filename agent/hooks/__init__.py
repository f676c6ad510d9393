"""Hooks: the user's (or a trusted project's) own commands run around prompts, tool calls and sessions.

Claude Code's format and contract: `config` reads the `hooks` settings block (pure), `outcome` says what a
command's exit status and output mean (pure), `runner` runs them. The engine calls `HookRunner.run` at
each event; it sits below the engine and imports only settings.
"""

from agent.hooks.config import EVENTS, HookCommand, HookConfig, HookGroup, parse_hooks
from agent.hooks.outcome import HookOutcome, interpret
from agent.hooks.runner import HookRunner, hook_env

__all__ = ["EVENTS", "HookCommand", "HookConfig", "HookGroup", "HookOutcome", "HookRunner", "hook_env",
           "interpret", "parse_hooks"]
