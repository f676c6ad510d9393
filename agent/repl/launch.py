"""`agent` in a terminal: the checks before the chat, its asyncio loop and a quick exit.

Separate from the application (`app.Repl`) because it is the process around it: the terminal check,
which saved session `-c`, `-r` and `--fork-session` continue, logging routed to the chat, stray output
kept above the prompt, and the interpreter's exit made fast once the chat is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from pathlib import Path

from prompt_toolkit.patch_stdout import patch_stdout

from agent.repl.app import Repl
from agent.repl.asking import unattended_answer_s
from agent.repl.startup import route_logging
from agent.settings import state_dir


def run_repl(args: argparse.Namespace, project: Path) -> int:
    """`agent` with no prompt: the chat in `project`, until /exit, Ctrl-D or Ctrl-C twice."""
    if not sys.stdin.isatty():
        print('agent: the chat needs a terminal; for piped input use agent -p "..."', file=sys.stderr)
        return 2
    out = sys.stdout

    from agent.engine.transcript import SessionChoiceError
    from agent.repl.resume import resolve_chat_session

    try:
        session_id, resume_from = resolve_chat_session(args, project, os.environ, out)
        if resume_from is not None and getattr(args, "fork_session", False):
            from agent.engine.transcript import new_session_id

            session_id = new_session_id()  # --fork-session: the resumed history goes on under a new id
    except SessionChoiceError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return 1

    async def main() -> int:
        repl = Repl(args, project, out=out, session_id=session_id, resume_from=resume_from,
                    unattended_answer_s=unattended_answer_s(os.environ))
        handlers = route_logging(repl.renderer, state_dir(repl.env), repl.reported_problems,
                                 verbose=bool(getattr(args, "verbose", False) or getattr(args, "debug", False)))
        try:
            return await repl.run()
        finally:
            for handler in handlers:
                logging.getLogger().removeHandler(handler)

    with patch_stdout(raw=True):  # stray writes to stdout/stderr still land above the prompt
        code = asyncio.run(main())
    # Everything is closed by now. With the SDK loaded, the interpreter's final garbage collection
    # takes about 0.6 s; freezing the heap skips it, so Ctrl-D feels instant.
    gc.freeze()
    return code


__all__ = ["run_repl"]
