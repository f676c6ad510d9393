""""Always for this project": a host added to `sandbox.network.allowedDomains` in the project's
`.claude/settings.local.json` (the file that is not committed), as Claude Code records such answers.

The file is read as settings are (untrusted: regular file, 1 MiB, strict JSON); one that cannot be read
is never overwritten. Everything else in it is kept as it was; the write is atomic (a temp file in the
same folder, fsync, rename).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from agent.permissions.network.domains import BadHost, parse_rule
from agent.settings import SettingsError, read_settings_file

LOCAL_SETTINGS = Path(".claude") / "settings.local.json"


class RememberError(Exception):
    """The host could not be saved; the message says why and what to do."""


def remember_domain(project_dir: Path, host: str) -> Path:
    """Add `host` to the project's local allowedDomains (once); returns the file written."""
    path = Path(project_dir) / LOCAL_SETTINGS
    try:
        parse_rule(host)
        data = read_settings_file(path)
    except (BadHost, SettingsError) as exc:
        raise RememberError(str(exc)) from None
    network = _object_at(data, ("sandbox", "network"), path)
    domains = network.setdefault("allowedDomains", [])
    if not isinstance(domains, list):
        raise RememberError(f"{path}: sandbox.network.allowedDomains is not a list; fix it, then answer again")
    if host not in domains:
        domains.append(host)
        _write_atomically(path, data)
    return path


def _object_at(data: dict[str, Any], keys: tuple[str, ...], path: Path) -> dict[str, Any]:
    node = data
    for index, key in enumerate(keys):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise RememberError(f"{path}: {'.'.join(keys[: index + 1])} is not an object; fix it, then answer again")
        node = child
    return node


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, temp = tempfile.mkstemp(prefix=".settings.local.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
