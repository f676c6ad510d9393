"""What the command-line faces share: the parser that turns mistakes into one line, and exit codes.

Imports none of the faces, so each of them (`main`, `headless`, `daemon`, `cron`) can import it.
"""

from __future__ import annotations

import argparse

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "OUTPUT_FORMATS", "PERMISSION_MODES", "Parser", "UsageError",
           "builtin_names"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

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
