"""The command-line faces: the `agent` entry point, `-p` (headless), `daemon` and `cron` sub-commands.

`common` holds what they share (parser, usage error, exit codes) and imports none of them.
"""

from agent.cli.main import build_parser, entry, main

__all__ = ["build_parser", "entry", "main"]
