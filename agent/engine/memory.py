"""Memory files as Claude Code reads them: CLAUDE.md from the user, the folders above, the project.

Order (all of them, each named in the prompt): the user's `~/.claude/CLAUDE.md`; `CLAUDE.md` in each
folder above the project, from the top down; the project's `CLAUDE.md` and `.claude/CLAUDE.md`
(`AGENTS.md` when it has neither); its `CLAUDE.local.md`. A file may import others with `@path`
(relative to the file, `@~/...` from home), up to 5 levels deep; an import that leaves the project and
the home folder, or comes back to a file already read, is skipped. `CLAUDE.md` files of subfolders are
read when a tool first touches the folder (`SubfolderMemory`). A project file that resolves outside the
project (a committed link to ~/.ssh/id_rsa) is never read.

Pure apart from the reader passed in (`read(path) -> text | None`) and resolving paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Reader = Callable[[Path], "str | None"]

MAX_IMPORT_DEPTH = 5
MAX_FILE_CHARS = 20_000
MAX_FILE_BYTES = 256 * 1024
PROJECT_FILES = ("CLAUDE.md", ".claude/CLAUDE.md")
LOCAL_FILE = "CLAUDE.local.md"
FALLBACK_FILE = "AGENTS.md"
KINDS = {
    "user": "the user's private global instructions for all projects",
    "parent": "instructions from a folder above the project",
    "project": "project instructions, checked into the codebase",
    "local": "the user's private project instructions, not checked in",
    "import": "imported by {parent}",
    "subfolder": "instructions for files in {folder}",
}
# `@path` at the start of a line or after a space; not an e-mail address, not inside code.
_IMPORT = re.compile(r"(?:(?<=\s)|^)@((?:~/|\.{1,2}/|/)?[A-Za-z0-9_.\-/~]+)", re.MULTILINE)
_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")


@dataclass(frozen=True)
class MemoryFile:
    path: Path
    kind: str  # a key of KINDS
    text: str
    note: str = ""  # what fills KINDS' placeholder

    @property
    def description(self) -> str:
        return KINDS[self.kind].format(parent=self.note, folder=self.note)


def _inside(path: Path, root: Path) -> bool:
    real, base = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    return real == base or base in real.parents


class MemoryLoader:
    """Reads memory files for one project; `roots` bound where imports may lead."""

    def __init__(self, project_dir: Path, home: Path, read: Reader, *, user_dir: Path | None = None) -> None:
        self.project_dir, self.home, self.read = project_dir, home, read
        self.user_dir = user_dir or home / ".claude"
        self.seen: set[str] = set()

    def load(self) -> list[MemoryFile]:
        files: list[MemoryFile] = []
        self._add(files, self.user_dir / "CLAUDE.md", "user", root=self.user_dir)
        for folder in reversed(self.project_dir.parents):
            if folder != Path(folder.anchor):
                self._add(files, folder / "CLAUDE.md", "parent", root=folder)
        before = len(files)
        for name in PROJECT_FILES:
            self._add(files, self.project_dir / name, "project", root=self.project_dir)
        if len(files) == before:
            self._add(files, self.project_dir / FALLBACK_FILE, "project", root=self.project_dir)
        self._add(files, self.project_dir / LOCAL_FILE, "local", root=self.project_dir)
        return files

    def folder_files(self, folder: Path) -> list[MemoryFile]:
        files: list[MemoryFile] = []
        note = str(folder.relative_to(self.project_dir)) if folder.is_relative_to(self.project_dir) else str(folder)
        self._add(files, folder / "CLAUDE.md", "subfolder", root=self.project_dir, note=note + "/")
        return files

    def _add(self, files: list[MemoryFile], path: Path, kind: str, *, root: Path, note: str = "",
             depth: int = 0) -> None:
        """`path` and what it imports, depth first, each file once; `root` is where it must resolve."""
        key = os.path.realpath(path)
        if key in self.seen or not _inside(path, root):
            return
        text = self.read(path)
        if text is None or not text.strip():
            return
        self.seen.add(key)
        text = text.strip()
        if len(text) > MAX_FILE_CHARS:
            text = text[:MAX_FILE_CHARS] + f"\n[... {len(text) - MAX_FILE_CHARS:,} more characters were cut ...]"
        files.append(MemoryFile(path, kind, text, note))
        if depth >= MAX_IMPORT_DEPTH:
            return
        for target in imports_of(text):
            resolved = self._import_path(target, path.parent)
            if resolved is not None:
                self._add(files, resolved, "import", root=self._root_of(resolved), note=str(path), depth=depth + 1)

    def _import_path(self, target: str, base: Path) -> Path | None:
        path = self.home / target[2:] if target.startswith("~/") else base / target
        return path if self._root_of(path) is not None else None

    def _root_of(self, path: Path) -> Path:
        for root in (self.project_dir, self.home):
            if _inside(path, root):
                return root
        return None  # type: ignore[return-value]


def imports_of(text: str) -> list[str]:
    """The `@path` imports of a memory file, in order, outside code blocks and code spans."""
    text = _CODE.sub("", _FENCE.sub("", text))
    return [m.group(1).rstrip(".") for m in _IMPORT.finditer(text) if "/" in m.group(1) or "." in m.group(1)]


def memory_section(files: list[MemoryFile]) -> str | None:
    """The system prompt's memory section: each file's contents under its path and what it is."""
    if not files:
        return None
    parts = ["# Memory files\nCodebase and user instructions are shown below. Follow them; they override "
             "default behaviour where they differ."]
    parts += [f"Contents of {f.path} ({f.description}):\n\n{f.text}" for f in files]
    return "\n\n".join(parts)


def read_memory_file(path: Path) -> str | None:
    """The default reader: a regular file (no FIFO, device or directory), capped, UTF-8 with replacement."""
    from agent.jsonfile import JSONFileError, read_regular_file

    try:
        raw = read_regular_file(path, MAX_FILE_BYTES)
    except (JSONFileError, OSError):
        return None
    return None if raw is None else raw[:MAX_FILE_BYTES].decode("utf-8", "replace")


class SubfolderMemory:
    """CLAUDE.md files of subfolders, each read the first time a tool touches a path at or below it."""

    def __init__(self, loader: MemoryLoader) -> None:
        self.loader = loader
        self.visited: set[Path] = set()

    def touched(self, path: str | Path | None) -> list[MemoryFile]:
        if not path:
            return []
        project = self.loader.project_dir
        target = Path(path) if Path(path).is_absolute() else project / path
        folder = target if target.is_dir() else target.parent
        if not folder.is_relative_to(project) or folder == project:
            return []
        found: list[MemoryFile] = []
        chain = [folder, *folder.parents]
        for step in reversed(chain[:chain.index(project)] if project in chain else []):
            if step not in self.visited:
                self.visited.add(step)
                found += self.loader.folder_files(step)
        return found


def subfolder_note(files: list[MemoryFile]) -> str:
    """What a tool result carries when the call reached folders with their own CLAUDE.md."""
    return "".join(f"\n\n<system-reminder>\nContents of {f.path} ({f.description}):\n\n{f.text}\n</system-reminder>"
                   for f in files)
