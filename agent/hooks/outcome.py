"""Pure: what one hook command's exit status and output mean, and what several mean together.

Claude Code's contract: exit 0 is success (stdout may be JSON with `continue`, `stopReason`,
`suppressOutput`, `decision`, `reason`, `systemMessage` and `hookSpecificOutput`; for UserPromptSubmit
and SessionStart plain stdout is context for the model); exit 2 blocks, its stderr going to the model
(PreToolUse, PostToolUse, Stop) or to the user (UserPromptSubmit); any other status is a non-blocking
error the user is shown. A hook that times out is such an error too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

BLOCKING_EVENTS = frozenset({"PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop"})
CONTEXT_FROM_STDOUT = frozenset({"UserPromptSubmit", "SessionStart"})
PERMISSION_ORDER = ("deny", "ask", "allow")  # the strictest answer of several hooks wins


@dataclass
class HookOutcome:
    """What the hooks of one event decided. Empty when none ran or none had anything to say."""

    event: str
    blocked: bool = False
    reasons: list[str] = field(default_factory=list)  # why blocked: to the model, or the user (prompts)
    permission: str | None = None  # PreToolUse: allow / deny / ask
    stop: bool = False  # `"continue": false`: end the turn now
    stop_reason: str = ""  # shown to the user when stopping
    context: list[str] = field(default_factory=list)  # additional context for the model
    notices: list[str] = field(default_factory=list)  # shown to the user (errors, systemMessage)
    ran: int = 0

    @property
    def reason(self) -> str:
        return "\n".join(r for r in self.reasons if r)

    def merge(self, other: HookOutcome) -> HookOutcome:
        self.blocked = self.blocked or other.blocked
        self.reasons += other.reasons
        self.permission = strictest(self.permission, other.permission)
        self.stop = self.stop or other.stop
        self.stop_reason = self.stop_reason or other.stop_reason
        self.context += other.context
        self.notices += other.notices
        self.ran += other.ran
        return self


def strictest(a: str | None, b: str | None) -> str | None:
    for answer in PERMISSION_ORDER:
        if answer in (a, b):
            return answer
    return None


def interpret(event: str, command: str, code: int | None, stdout: str, stderr: str, *,
              timeout_s: float | None = None) -> HookOutcome:
    """One command's result. `code` None means it was killed after `timeout_s` seconds."""
    outcome = HookOutcome(event, ran=1)
    if code is None:
        outcome.notices.append(f"{event} hook `{_short(command)}` timed out after {timeout_s:g}s and was stopped")
        return outcome
    if code == 2:
        message = stderr.strip() or f"blocked by the {event} hook `{_short(command)}`"
        if event in BLOCKING_EVENTS:
            outcome.blocked = True
            outcome.reasons.append(message)
        else:
            outcome.notices.append(f"{event} hook: {message}")
        return outcome
    if code != 0:
        detail = stderr.strip().splitlines()[0] if stderr.strip() else "no message"
        outcome.notices.append(f"{event} hook `{_short(command)}` failed with exit status {code}: {detail}")
        return outcome
    data = _json_object(stdout)
    if data is None:
        if event in CONTEXT_FROM_STDOUT and stdout.strip():
            outcome.context.append(stdout.strip())
        return outcome
    _read_json(event, data, outcome)
    return outcome


def _read_json(event: str, data: dict[str, Any], outcome: HookOutcome) -> None:
    if data.get("continue") is False:
        outcome.stop = True
        outcome.stop_reason = _text(data.get("stopReason"))
    if isinstance(data.get("systemMessage"), str):
        outcome.notices.append(data["systemMessage"])
    decision, reason = data.get("decision"), _text(data.get("reason"))
    if decision == "block" and event in BLOCKING_EVENTS:
        outcome.blocked = True
        outcome.reasons.append(reason or f"blocked by a {event} hook")
    elif decision == "approve" and event == "PreToolUse":
        outcome.permission = "allow"
    specific = data.get("hookSpecificOutput")
    if not isinstance(specific, dict):
        return
    if event == "PreToolUse" and specific.get("permissionDecision") in PERMISSION_ORDER:
        outcome.permission = strictest(outcome.permission, specific["permissionDecision"])
        why = _text(specific.get("permissionDecisionReason"))
        if specific["permissionDecision"] == "deny":
            outcome.blocked = True
            outcome.reasons.append(why or "denied by a PreToolUse hook")
        elif why:
            outcome.reasons.append(why)
    context = specific.get("additionalContext")
    if isinstance(context, str) and context.strip():
        outcome.context.append(context.strip())


def _json_object(stdout: str) -> dict[str, Any] | None:
    text = stdout.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _short(command: str) -> str:
    return command if len(command) <= 60 else command[:57] + "..."
