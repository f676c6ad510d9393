"""`agent -p`: one full turn with tools, no terminal UI, then exit.

Output formats follow Claude Code's `-p`: `text` prints the final answer; `json` prints one result
object at the end; `stream-json` prints every event as one JSON line as it happens, then the result.
Nobody can answer permission questions here, so what settings and flags do not allow is denied and the
model is told why. Exit status: 0 success, 1 the model call or the turn failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from agent.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError
from agent.engine.events import Event, TurnFinished
from agent.engine.permissions import PermissionConfigError
from agent.engine.session import AgentSession, SessionOptions
from agent.settings import SettingsError

log = logging.getLogger(__name__)


def read_prompt(args: argparse.Namespace, stdin: TextIO) -> str:
    """The prompt argument, with piped stdin appended (as `git diff | agent -p "review"` expects)."""
    parts = [args.prompt] if args.prompt else []
    if not stdin.isatty():
        piped = stdin.read()
        if piped.strip():
            parts.append(piped)
    prompt = "\n\n".join(parts).strip()
    if not prompt:
        raise UsageError('agent: -p needs a prompt: agent -p "..." or pipe text on stdin')
    return prompt


def result_object(turn: Any, session_id: str) -> dict[str, Any]:
    """Claude Code's `-p --output-format json` result shape."""
    return {
        "type": "result",
        "subtype": "success" if not turn.is_error else "error_during_execution",
        "is_error": turn.is_error,
        "result": turn.result_text if not turn.is_error else (turn.error or turn.result_text),
        "num_turns": turn.num_requests,
        "duration_ms": turn.duration_ms,
        "stop_reason": turn.stop_reason,
        "session_id": session_id,
        "total_cost_usd": turn.cost_usd,
        "usage": turn.usage.to_dict(),
    }


def run_headless(args: argparse.Namespace, project: Path) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.ERROR,
                        format="agent: %(message)s", stream=sys.stderr)
    if args.max_turns is not None and args.max_turns < 1:
        raise UsageError("agent: --max-turns must be at least 1")
    prompt = read_prompt(args, sys.stdin)
    try:
        session = AgentSession(project, SessionOptions.from_args(args, headless=True))
    except (SettingsError, PermissionConfigError) as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_FAILURE if type(exc) is SettingsError else EXIT_USAGE
    return asyncio.run(_run(session, prompt, args.output_format, args.verbose))


async def _run(session: AgentSession, prompt: str, output_format: str, verbose: bool) -> int:
    from agent.engine.llm import LLMError

    session_id = str(uuid.uuid4())

    def emit(event: Event) -> None:
        if output_format == "stream-json":
            print(json.dumps({**event.to_json(), "session_id": session_id}, ensure_ascii=False), flush=True)
        elif verbose and not isinstance(event, TurnFinished):
            _describe_to_stderr(event)

    try:
        conversation = session.new_conversation(emit=emit)
        turn = await conversation.run_turn(prompt)
    except LLMError as exc:
        print(f"agent: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        await session.aclose()
    if output_format == "text":
        if turn.result_text:
            print(turn.result_text)
        if turn.is_error:
            print(f"agent: {turn.error}", file=sys.stderr)
    else:
        print(json.dumps(result_object(turn, session_id), ensure_ascii=False), flush=True)
        if turn.is_error and turn.error and output_format == "json":
            print(f"agent: {turn.error}", file=sys.stderr)
    return EXIT_FAILURE if turn.is_error else EXIT_OK


def _describe_to_stderr(event: Event) -> None:
    data = event.to_json()
    if data.get("type") == "text_delta":
        return
    print("agent: " + json.dumps(data, ensure_ascii=False)[:300], file=sys.stderr)
