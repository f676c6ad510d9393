"""What an Edit or Write call would change, worked out before it runs, for its permission question.

It runs Edit's own replacement logic (`apply_edit`) on the file as it is now, read as Edit reads it
(regular files only, never blocking on a FIFO), so the question shows exactly what Edit would write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent.tools.base import ToolContext, ToolError
from agent.tools.file_change import FileChange, diff_texts, new_file_change
from agent.tools.files import EditInput, EditTool, WriteInput, WriteTool, apply_edit, current_text, write_change


def planned_change(tool_name: str, args: dict[str, Any], project: Path) -> FileChange | None:
    """What an Edit or Write call would change, computed before it runs (for the permission question).
    None for other tools, for input that does not parse, and when Edit would refuse or the file cannot
    be read as text: the tool itself reports those when it runs."""
    tool = {"Edit": EditTool, "Write": WriteTool}.get(tool_name)
    if tool is None:
        return None
    try:
        parsed = tool().parse_input(args)
        path = ToolContext(project_dir=project).resolve(parsed.file_path)  # type: ignore[attr-defined]
        if isinstance(parsed, WriteInput):
            return write_change(path, parsed.content, parsed.file_path)
        assert isinstance(parsed, EditInput)
        if parsed.old_string == "" and not os.path.lexists(path):
            return new_file_change(parsed.file_path, parsed.new_string)
        text = current_text(path)
        edit = apply_edit(text, parsed.old_string, parsed.new_string, parsed.replace_all, path)
    except ToolError:
        return None
    return diff_texts(parsed.file_path, text, edit.updated)
