"""Claude Code's own flags that users pass: their arguments, checks, and what they turn into.

`--dangerously-skip-permissions`, `--add-dir DIR`, `--system-prompt`, `--settings FILE_OR_JSON`, `--tools`,
`--max-budget-usd`, `--fallback-model`, `--fork-session`, `--no-session-persistence`,
`--replay-user-messages` and `-d/--debug`. Standard library only (this runs for `agent --help`).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from agent.cli.common import UsageError


def add_claude_code_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--dangerously-skip-permissions", action="store_true",
        help="allow every tool call without asking (bypassPermissions; deny rules and protected paths still hold)")
    add("--add-dir", dest="add_dirs", action="append", default=[], metavar="DIR",
        help="another folder the tools may use like the project (and Bash may write in the sandbox); repeatable")
    add("--system-prompt", default=None, metavar="TEXT", help="replace the built-in system prompt text")
    add("--settings", dest="settings_arg", default=None, metavar="FILE_OR_JSON",
        help="a settings file or JSON text, merged over the settings files (yours, like ~/.claude/settings.json)")
    add("--tools", default=None, metavar="TOOLS",
        help='the only built-in tools the model gets, e.g. "Read,Grep" ("" none, "default" all)')
    add("--max-budget-usd", type=float, default=None, metavar="USD",
        help="stop the turn once the model calls have cost this much (-p)")
    add("--fallback-model", default=None, metavar="MODEL",
        help="the model to switch to when the chosen one is overloaded (-p)")
    add("--fork-session", action="store_true",
        help="with --resume/--continue: a new session id, leaving the resumed session as it was")
    add("--no-session-persistence", action="store_true", help="do not save the session to disk (-p)")
    add("--replay-user-messages", action="store_true",
        help="with --input-format stream-json: echo each user message back on stdout")
    add("-d", "--debug", action="store_true", help="debug logs on stderr")


def check_claude_code_flags(args: argparse.Namespace, project: Path) -> None:
    """Mistakes in these flags as one-line usage errors; `--settings` and `--add-dir` resolved in place."""
    budget = getattr(args, "max_budget_usd", None)
    if budget is not None and (not math.isfinite(budget) or budget <= 0):
        raise UsageError("agent: --max-budget-usd must be a positive number of US dollars, e.g. 0.50")
    if getattr(args, "replay_user_messages", False) and getattr(args, "input_format", "text") != "stream-json":
        raise UsageError("agent: --replay-user-messages needs --input-format stream-json")
    if getattr(args, "fork_session", False) and not (getattr(args, "resume", None) or
                                                     getattr(args, "continue_session", False)):
        raise UsageError("agent: --fork-session needs --resume ID or --continue")
    dirs = []
    for raw in getattr(args, "add_dirs", None) or []:
        folder = (project / Path(raw).expanduser()).resolve()
        if not folder.is_dir():
            raise UsageError(f"agent: --add-dir {raw}: not a folder")
        dirs.append(folder)
    args.add_dirs = dirs
    args.settings_override = settings_override(getattr(args, "settings_arg", None))
    args.tools_list = tools_list(getattr(args, "tools", None))


def settings_override(value: str | None) -> dict[str, Any] | None:
    """`--settings`: JSON text (starting with `{`) or the path of a settings file."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = Path(value).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"agent: --settings {value}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"agent: --settings {value[:60]}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError("agent: --settings must hold a JSON object")
    return data


def tools_list(value: str | None) -> list[str] | None:
    """`--tools "Read,Grep"` or `"Read Grep"` as names; None for all (no flag, or "default")."""
    if value is None or value.strip() == "default":
        return None
    return [name for name in value.replace(",", " ").split() if name]
