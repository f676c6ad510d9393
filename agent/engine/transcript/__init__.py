"""Saved sessions: one JSON-lines transcript per session, written as the conversation goes.

`records` is the on-disk format (where a transcript lives, what a well-formed line is); `writer` appends
a conversation's history to it; `reader` replays one into a `LoadedTranscript`; `resume` puts that into a
fresh conversation (its history repaired, its session-only tasks restored); `listing` lists a project's
sessions and picks the one `--continue` / `--resume` / `--session-id` names. Other code learns where a
conversation is saved with `transcript_path_of(conversation)`.
"""

from __future__ import annotations

from agent.engine.transcript.listing import (
    SessionChoiceError,
    SessionInfo,
    choose_session,
    describe_age,
    describe_size,
    find_session,
    first_prompt,
    list_sessions,
)
from agent.engine.transcript.reader import LoadedTranscript, read_transcript
from agent.engine.transcript.records import is_session_id, new_session_id, transcript_path
from agent.engine.transcript.resume import NOT_RUN, repaired_history, restore_session_tasks, resume_into
from agent.engine.transcript.writer import TranscriptWriter, transcript_path_of

__all__ = [
    "NOT_RUN",
    "LoadedTranscript",
    "SessionChoiceError",
    "SessionInfo",
    "TranscriptWriter",
    "choose_session",
    "describe_age",
    "describe_size",
    "find_session",
    "first_prompt",
    "is_session_id",
    "list_sessions",
    "new_session_id",
    "read_transcript",
    "repaired_history",
    "restore_session_tasks",
    "resume_into",
    "transcript_path",
    "transcript_path_of",
]
