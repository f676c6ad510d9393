"""What the command-line faces share: the parser that turns mistakes into one line, and exit codes.

Imports none of the faces, so each of them (`main`, `headless`, `daemon`, `cron`) can import it.
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "OUTPUT_FORMATS",
    "PERMISSION_MODES",
    "Parser",
    "UsageError",
    "builtin_names",
    "check_rule_flags",
    "pause_gc_for_start_up",
    "project_dir",
    "resume_gc",
]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

# agent.settings.PERMISSION_MODES, repeated so `agent --help` does not import the settings reader.
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions")

OUTPUT_FORMATS = ("text", "json", "stream-json")

def builtin_names() -> list[str]:
    """The chat's own commands: they win over custom command files of the same name."""
    from agent.repl.commands import default_registry

    return default_registry().all_names()


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise `UsageError` instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def check_rule_flags(prog: str, allowed: Sequence[str], disallowed: Sequence[str]) -> None:
    """Raise UsageError naming the flag when an --allowedTools/--disallowedTools rule is malformed."""
    if not allowed and not disallowed:
        return  # no need to import the permission engine
    from agent.permissions.rules import PermissionConfigError, parse_rules

    for flag, values in (("--allowedTools", allowed), ("--disallowedTools", disallowed)):
        try:
            parse_rules(values, split=True)
        except PermissionConfigError as exc:
            raise UsageError(f"{prog}: {flag}: {exc}") from None


def project_dir(cwd: Path | None, prog: str) -> Path:
    """The project folder: `--cwd`, else the current folder; a UsageError naming `prog` if it is none."""
    project = (cwd or Path.cwd()).expanduser()
    if not project.is_dir():
        raise UsageError(f"{prog}: --cwd {project} is not a folder")
    return project.resolve()


def pause_gc_for_start_up() -> None:
    """Importing the SDK makes thousands of classes and no garbage worth collecting, yet the cyclic
    collector runs over and over while it does (about 100 ms of `agent -p`'s start-up). It stays off
    until the model client is ready (`resume_gc`)."""
    gc.disable()


def resume_gc() -> None:
    """Collection back on, with what start-up built frozen: long-lived, so later collections skip it."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
