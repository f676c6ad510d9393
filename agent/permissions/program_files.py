"""Which file a program name runs, now: copies of a denied program under another name.

`cp /bin/rm ~/.local/bin/d` in one command and `d x` in the next runs rm under a name no rule mentions.
So when a deny rule names a program, each program name the command runs is looked up on PATH as the
command is judged: one that resolves outside the system folders to the same file as the denied program
(same device and inode, or the same size and bytes) is that program; one that resolves nowhere (and is
no shell builtin) may be created by the command itself, so the deny rule cannot be ruled out.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable

from agent.permissions.runners import SYSTEM_FOLDERS
from agent.permissions.wrapper_args import Words

BASH_BUILTINS = frozenset("""
. : [ [[ ]] alias bg bind break builtin caller cd command compgen complete compopt continue coproc declare dirs
disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local logout mapfile
popd printf pushd pwd read readarray readonly return set shift shopt source suspend test time times trap true type
typeset ulimit umask unalias unset wait if then else elif fi case esac for while until do done function select in
""".split())  # noqa: SIM905 (a word list reads better as text)
MAX_HASH_BYTES = 64 * 1024 * 1024


class ProgramFiles:
    """Looks program names up on PATH for one decision (results kept for that decision only)."""

    def __init__(self, path: str | None = None) -> None:
        self._path = path if path is not None else os.environ.get("PATH", os.defpath)
        self._where: dict[str, str | None] = {}
        self._digest: dict[str, bytes | None] = {}

    def where(self, name: str) -> str | None:
        if name not in self._where:
            found = shutil.which(name, path=self._path)
            self._where[name] = os.path.realpath(found) if found else None
        return self._where[name]

    def copies(self, program: str, commands: Iterable[Words]) -> tuple[list[Words], bool]:
        """The commands that run a copy of `program` under another name, renamed to it; and whether
        some program name resolves to nothing yet (the command may create it: `cp /bin/rm ~/bin/d && d`)."""
        denied = self.where(program)
        renamed: list[Words] = []
        unknown = False
        for words in commands:
            name = words[0] if words else None
            if name is None or name == program or name in BASH_BUILTINS or "/" in name:
                continue
            found = self.where(name)
            if found is None:
                unknown = True
            elif denied is not None and os.path.dirname(found) not in SYSTEM_FOLDERS and self._same(found, denied):
                renamed.append((program, *words[1:]))
        return renamed, unknown

    def _same(self, a: str, b: str) -> bool:
        try:
            sa, sb = os.stat(a), os.stat(b)
        except OSError:
            return False
        if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
            return True
        if sa.st_size != sb.st_size or sa.st_size > MAX_HASH_BYTES:
            return False
        digest = self._hash(a)
        return digest is not None and digest == self._hash(b)

    def _hash(self, path: str) -> bytes | None:
        if path not in self._digest:
            digest = hashlib.sha256()
            try:
                with open(path, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
                self._digest[path] = digest.digest()
            except OSError:
                self._digest[path] = None
        return self._digest[path]
