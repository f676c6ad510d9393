"""Command line entry point: `agent`, `agent -p`, `agent cron ...`, `agent daemon`.

Kept to the standard library at import time so `agent --help` and `agent --version` stay fast; each
subcommand imports what it needs only when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from agent import __version__
from agent.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    OUTPUT_FORMATS,
    PERMISSION_MODES,
    Parser,
    UsageError,
    check_rule_flags,
    pause_gc_for_start_up,
    project_dir,
    resume_gc,
)
from agent.cli.flags import add_claude_code_flags, check_claude_code_flags

DESCRIPTION = """\
A terminal coding agent for Claude with a cron scheduler built in.

With no arguments, opens the interactive chat in the current folder; with a prompt, opens the chat and
sends it as the first message (with -p: one headless turn instead). In the chat, /loop 30m <prompt>
runs a prompt on a schedule; /help lists the commands.
"""

EPILOG = """\
subcommands:
  agent cron list|add|delete|next|watch   inspect and edit scheduled tasks (agent cron --help)
  agent daemon                            run durable scheduled tasks with no terminal
  agent trust [DIR] | --revoke [DIR]      trust a folder's own settings (env, hooks, cron.notify ...)
  agent sandbox                           what the OS sandbox for Bash commands does here
  agent mcp add|add-json|list|get|remove  configure MCP servers (agent mcp --help)

environment:
  ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN   credentials
  ANTHROPIC_BASE_URL                         any Anthropic-compatible endpoint
  ANTHROPIC_MODEL                            default model
  AGENT_DISABLE_CRON=1                       stop all scheduled firing

examples:
  agent                                   chat in this folder
  agent "fix the test"                    chat, starting with this message
  agent -p "summarise the open TODOs"     one headless turn, then exit
  agent -c                                continue the last session here (agent -r to pick one)
  git diff | agent -p "review this"       prompt text from stdin
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="agent",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agent {__version__}")
    parser.add_argument("prompt", nargs="?", help="the chat's first message; with -p, the prompt of the "
                        "headless run (read from stdin when piped and omitted)")
    parser.add_argument("-p", "--print", dest="print_mode", action="store_true",
                        help="run one headless turn with tools, print the result and exit")
    parser.add_argument("--cwd", type=Path, default=None, help="project folder (default: current folder)")
    parser.add_argument("--model", help="model name (default: ANTHROPIC_MODEL, settings, or built-in)")
    parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="text",
                        help="with -p: text (default), json (one object at the end), stream-json (events)")
    parser.add_argument("--max-turns", type=int, default=None, help="stop after this many model requests")
    parser.add_argument("--permission-mode", choices=PERMISSION_MODES, default=None,
                        help="default asks before changes; acceptEdits; plan (read-only); bypassPermissions")
    parser.add_argument("--allowedTools", "--allowed-tools", dest="allowed_tools", action="append",
                        default=[], metavar="RULES", help='allow rules, e.g. "Bash(npm test:*) Edit"')
    parser.add_argument("--disallowedTools", "--disallowed-tools", dest="disallowed_tools", action="append",
                        default=[], metavar="RULES", help='deny rules, e.g. "Bash(git push:*)"')
    parser.add_argument("--append-system-prompt", default=None, help="text added to the system prompt")
    parser.add_argument("--verbose", action="store_true",
                        help="log debug detail to stderr (with stream-json: accepted, as Claude Code needs it)")
    parser.add_argument("-c", "--continue", dest="continue_session", action="store_true",
                        help="continue the most recent session of this project")
    parser.add_argument("-r", "--resume", nargs="?", const="", default=None, metavar="ID",
                        help="resume a saved session: by id, or pick from a list when no id is given")
    parser.add_argument("--session-id", default=None, metavar="UUID", help="with -p: the id for a new session")
    parser.add_argument("--include-partial-messages", action="store_true",
                        help="with --output-format stream-json: add the raw stream events (token streaming)")
    parser.add_argument("--input-format", choices=("text", "stream-json"), default="text",
                        help="with -p: text (default), or stream-json (user messages as JSON lines on stdin)")
    parser.add_argument("--mcp-config", action="append", default=[], metavar="FILE_OR_JSON",
                        help='MCP servers from a file or JSON string ({"mcpServers": {...}}); repeatable')
    parser.add_argument("--strict-mcp-config", action="store_true",
                        help="use only the MCP servers of --mcp-config, none from .mcp.json or your config")
    add_claude_code_flags(parser)
    return parser


def _check_settings_rules(project: Path) -> None:
    """A malformed permission rule or mode stops the chat before it starts (dropping a deny rule and
    going on would fail open). Other settings problems are shown in the chat, which goes on without them."""
    from agent.settings import SettingsError, SettingsRuleError, load_settings

    try:
        load_settings(project)
    except SettingsRuleError as exc:
        raise UsageError(f"agent: {exc}") from None
    except SettingsError:
        pass


def keep_trio_out() -> None:
    """`-p` runs on asyncio only, and httpcore imports trio whenever it is installed (about 200 ms when
    the model client is made); a None entry in sys.modules makes that optional import fail at once.
    (Importing the SDK in a background thread was tried and measured: under the GIL it saved nothing.)"""
    sys.modules.setdefault("trio", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] not in (["cron"], ["daemon"]) and ("-p" in args_list or "--print" in args_list):
        pause_gc_for_start_up()  # back on once the model client is made, or when main returns
        keep_trio_out()
        from agent.engine.tls import prepare

        prepare()  # the CA certificates load while the SDK is imported
    args: argparse.Namespace | None = None
    try:
        if args_list and args_list[0] == "cron":
            from agent.cli.cron import run_cron_cli

            return run_cron_cli(args_list[1:])
        if args_list and args_list[0] == "trust":
            from agent.cli.trust import run_trust_cli

            return run_trust_cli(args_list[1:])
        if args_list and args_list[0] == "daemon":
            from agent.cli.daemon import run_daemon_cli

            return run_daemon_cli(args_list[1:])
        if args_list and args_list[0] == "mcp":
            from agent.cli.mcp import run_mcp_cli

            return run_mcp_cli(args_list[1:])
        if args_list and args_list[0] == "sandbox":
            from agent.cli.sandbox import run_sandbox_cli

            return run_sandbox_cli(args_list[1:])
        args = build_parser().parse_args(args_list)
        from agent.cli.text_input import clean_args

        clean_args(args)
        project = project_dir(args.cwd, "agent")
        check_rule_flags("agent", args.allowed_tools, args.disallowed_tools)
        check_claude_code_flags(args, project)
        if args.print_mode:
            from agent.cli.headless import run_headless

            return run_headless(args, project)
        if args.prompt is not None and not sys.stdin.isatty():
            raise UsageError('agent: the chat needs a terminal; without one, a prompt needs -p (agent -p "...")')
        _check_settings_rules(project)
        from agent.repl.launch import run_repl

        return run_repl(args, project)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        if args is not None and args.print_mode and args.output_format != "text":  # scripts read stdout
            from agent.cli.stream_json import usage_failure

            usage_failure(args, str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `agent cron list | head`: the reader left; not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        resume_gc()  # a failure before the model client was made must not leave collection off


def entry() -> NoReturn:
    """The `agent` script and `python -m agent`. The one-shot commands (`-p`, `agent cron ...`) end the
    process at once: by the time they return, their output is written and what they own (session,
    transcript, history, lock, child processes) is closed, and the interpreter's teardown of the SDK's
    thousands of modules would only add about half a second to every scripted call."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv[:1] == ["cron"] or "-p" in argv or "--print" in argv:
        exit_now(code)
    sys.exit(code)


def exit_now(code: int) -> NoReturn:
    """Flush what is buffered, then leave without the interpreter's teardown."""
    import logging

    logging.shutdown()  # flushes and closes file handlers (a daemon's --log-file, a -p debug log)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing left to save
            stream.flush()
    os._exit(code)

