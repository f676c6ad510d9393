"""Which folders the user trusts: the answer to "Do you trust the files in this folder?".

A repository the user merely cloned must not run a program, move a credential or widen its own
permissions before the user said yes. The answer is kept per user in the state folder
(`$XDG_STATE_HOME/agent/trust.json`, 0600 in a 0700 folder), never in the project. Folders are keyed by
their real path (symlinks resolved), and a trusted folder covers everything below it, as in Claude Code.
Trusting the home folder itself is refused: it would trust every repository cloned under it.

Only the standard library is used: settings are read on the path of `agent --help`-fast commands, and
the settings gate (`agent.settings.load_settings`) asks this module before it honours a project's keys.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.settings.private import private_dir, tighten

TRUST_FILE_NAME = "trust.json"
_MAX_BYTES = 1 << 20


class TrustError(ValueError):
    """The trust store cannot be used or changed as asked; the message says what to do."""


def _real(folder: Path) -> Path:
    return Path(os.path.realpath(folder))


def _covers(parent: Path, child: Path) -> bool:
    return child == parent or parent in child.parents


@dataclass(frozen=True)
class TrustStore:
    """The trusted folders of one user, in one JSON file: `{"trusted": ["/real/path", ...]}`."""

    path: Path

    def folders(self) -> list[Path]:
        """The trusted folders; [] when the file is missing or unreadable (untrusted: fail closed)."""
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(_MAX_BYTES + 1)
            data = json.loads(raw) if len(raw) <= _MAX_BYTES else {}
        except (OSError, ValueError, RecursionError):
            return []
        entries = data.get("trusted") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return []
        return [Path(e) for e in entries if isinstance(e, str) and os.path.isabs(e)]

    def covering(self, folder: Path) -> Path | None:
        """The trusted folder that covers `folder` (itself or a parent), or None."""
        real = _real(folder)
        return next((t for t in self.folders() if _covers(t, real)), None)

    def is_trusted(self, folder: Path) -> bool:
        return self.covering(folder) is not None

    def trust(self, folder: Path, home: Path | None = None) -> Path:
        """Remember `folder` (its real path) as trusted; returns that path."""
        real = _real(folder)
        if home is not None and real == _real(home):
            raise TrustError(f"refusing to trust your home folder {real}: that would trust every repository "
                             "under it; trust the project folder instead")
        if real == Path(real.anchor):
            raise TrustError("refusing to trust the root folder /; trust the project folder instead")
        kept = [t for t in self.folders() if t != real]
        self._write([*kept, real])
        return real

    def revoke(self, folder: Path) -> list[Path]:
        """Forget `folder` and every trusted folder below it; returns what was removed."""
        real = _real(folder)
        folders = self.folders()
        removed = [t for t in folders if _covers(real, t)]
        if removed:
            self._write([t for t in folders if t not in removed])
        return removed

    def _write(self, folders: list[Path]) -> None:
        private_dir(self.path.parent)
        body = json.dumps({"trusted": sorted({str(f) for f in folders})}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".trust-", dir=self.path.parent)  # mkstemp creates 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def trust_store(env: Mapping[str, str] | None = None) -> TrustStore:
    from agent.settings import state_dir

    store = TrustStore(state_dir(os.environ if env is None else env) / TRUST_FILE_NAME)
    tighten(store.path)  # a store written by an older version, or copied in: private from now on
    return store


def is_trusted(project_dir: Path, env: Mapping[str, str] | None = None) -> bool:
    """Whether the user trusts `project_dir` (or a folder above it). Untrusted when unsure."""
    return trust_store(env).is_trusted(project_dir)


__all__ = ["TRUST_FILE_NAME", "TrustError", "TrustStore", "is_trusted", "trust_store"]
