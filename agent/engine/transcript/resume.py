"""Resuming a saved session: its history made valid for the API, its session-only tasks put back.

Separate from reading the file: this is what a face does with a `LoadedTranscript` (a fresh conversation
continues it, the cron service gets its unexpired tasks back).
"""

from __future__ import annotations

from typing import Any

from agent.engine.transcript.reader import LoadedTranscript
from agent.engine.transcript.records import Message, content_blocks

NOT_RUN = "Not run: the session ended before this tool call finished."


def repaired_history(messages: list[Message]) -> list[Message]:
    """A history the API accepts: consecutive messages of one role merged, and tool calls left without
    results (the session ended mid-call) answered as not run. The input's message objects are kept
    where nothing changes, so a writer that adopted them only appends the repair."""
    out: list[Message] = []
    for message in messages:
        if out and out[-1]["role"] == message["role"]:
            out[-1] = {**out[-1], "content": [*content_blocks(out[-1]["content"]), *content_blocks(message["content"])]}
        else:
            out.append(message)
    if out and out[-1]["role"] == "assistant":
        open_ids = [b["id"] for b in content_blocks(out[-1]["content"]) if b.get("type") == "tool_use"]
        if open_ids:
            out.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": i, "content": NOT_RUN,
                                                     "is_error": True} for i in open_ids]})
    while out and out[0]["role"] != "user":  # the API wants the user to speak first
        out.pop(0)
    return out


def resume_into(conversation: Any, loaded: LoadedTranscript, *, fork: bool = False) -> None:
    """Give a fresh conversation the history of a saved session; its writer continues that file (with
    `fork`, the writer's own new file gets the whole history and the saved session stays as it was)."""
    history = repaired_history(loaded.messages)
    if conversation.transcript is not None:
        if not fork:
            conversation.transcript.adopt(loaded.messages, loaded.uuids)
        conversation.transcript.sync(history)
    conversation.history = history


def restore_session_tasks(cron: Any, tasks: list[dict[str, Any]], now_ms: int) -> tuple[list[str], list[str]]:
    """Put a resumed session's session-only scheduled tasks back, unless they have expired (a recurring
    task past its maximum age, a one-shot whose time has passed). Returns (restored ids, dropped ids)."""
    from pydantic import ValidationError

    from agent.cron.jitter import is_aged, one_shot_fire
    from agent.cron.store import TaskLimitError
    from agent.cron.task import CronTask

    cfg, restored, dropped = cron.jitter_config(), [], []
    for data in tasks:
        try:
            task = CronTask.from_json_dict(data)
        except ValidationError:
            continue
        fire = None if task.recurring else one_shot_fire(task.cron, task.createdAt, task.id, cfg, cron.tz)
        if is_aged(task, now_ms, cfg) or (not task.recurring and (fire is None or fire <= now_ms)):
            dropped.append(task.id)
            continue
        try:
            cron.session_store.add(task)
        except (TaskLimitError, ValueError):
            dropped.append(task.id)
            continue
        restored.append(task.id)
    return restored, dropped
